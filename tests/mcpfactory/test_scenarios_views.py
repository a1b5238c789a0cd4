"""Scenarios build a session's initial state from typed parameters; views project the state for harnesses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp.client.client import Client

from mcpfactory.errors import SpecError
from mcpfactory.runtime import CONTROL_VIEW, EnvClient
from mcpfactory.runtime._errors import ControlError
from mcpfactory.spec import load_spec

SPEC = """
name: counters
description: Named counters.
collections:
  counters:
    record: Counter
    key: name
    fields:
      name: str
      value: int
    seed:
      - {name: a, value: 1}
scenario:
  description: Start with the given counters, each at `start`.
  params:
    names: {type: "list[str]", description: Counter names.}
    start: {type: int, default: 0}
  body: |
    return {"counters": {n: {"name": n, "value": start} for n in names}}
views:
  totals:
    description: The sum of every counter.
    returns: "dict[str, int]"
    body: |
      return {"total": sum(c["value"] for c in state.counters.values()), "count": len(state.counters)}
tools:
  bump:
    description: Add one to a counter.
    effect: write
    params: {name: str}
    returns: Counter
    errors: {unknown: "No counter {name}."}
    body: |
      if name not in state.counters:
          raise ToolError("unknown", name=name)
      counter = state.counters.edit(name)
      counter["value"] += 1
      return counter
"""


@pytest.fixture
def counters(compile_package: Any) -> Any:
    return compile_package(SPEC, "counters_env")


async def test_reset_to_a_scenario_builds_exactly_the_state_its_body_returns(counters: Any) -> None:
    async with Client(counters.build(control=True), mode="legacy") as client:
        env = EnvClient(client, "counters")
        await env.reset({"scenario": {"names": ["x", "y"], "start": 5}})
        bumped = await env.call_tool("bump", {"name": "x"})
        state = await env.snapshot("full")
    assert bumped.value == {"name": "x", "value": 6}
    assert state == {"counters": {"x": {"name": "x", "value": 6}, "y": {"name": "y", "value": 5}}}


async def test_view_projects_the_sessions_state(counters: Any) -> None:
    async with Client(counters.build(control=True), mode="legacy") as client:
        env = EnvClient(client, "counters")
        assert await env.view("totals") == {"total": 1, "count": 1}
        await env.call_tool("bump", {"name": "a"})
        assert await env.view("totals") == {"total": 2, "count": 1}


async def test_bad_scenario_arguments_and_unknown_views_are_refused_not_faults(counters: Any) -> None:
    async with Client(counters.build(control=True), mode="legacy") as client:
        env = EnvClient(client, "counters")
        with pytest.raises(ControlError, match="names"):
            await env.reset({"scenario": {"start": 1}})
        with pytest.raises(ControlError, match="no view 'nope'"):
            await env.view("nope")
        with pytest.raises(ControlError, match="at most one"):
            await env.reset({"scenario": {"names": []}, "patch": {}})
        raw = await env.send(CONTROL_VIEW, {"name": "totals"}, control=True)
    assert json.loads(raw.content[0].text) == {"view": {"total": 1, "count": 1}}  # type: ignore[union-attr]


def test_a_view_that_uses_rng_does_not_load(tmp_path: Any) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace('return {"total"', 'rng.random()\n      return {"total"'))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert [issue.path for issue in caught.value.issues] == ["views.totals.body"]
