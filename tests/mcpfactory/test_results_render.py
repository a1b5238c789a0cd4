"""`render` and `error_when`: results shown as a Python harness shows them, and returned values that are errors."""

from __future__ import annotations

import json
import math
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcp.client.client import Client

from mcpfactory.errors import SpecError
from mcpfactory.runtime import RETURNED_ERROR, EnvClient, python_json, python_text
from mcpfactory.spec import load_spec

SPEC = """
name: shelf
description: Labelled boxes on a shelf.
render: python
error_when: >-
  isinstance(result, dict) and "error" in result
collections:
  boxes:
    record: Box
    key: label
    fields:
      label: str
      items: "list[str]"
    seed:
      - {label: a, items: [pen]}
  draws:
    record: Draw
    key: key
    fields:
      key: str
      values: "list[int]"
scenario:
  params:
    labels: {type: "list[str]"}
    draw_seed: {type: "int | None", default: null}
  body: |
    if draw_seed is not None:
        rng.seed(draw_seed)
    return {"boxes": {label: {"label": label, "items": []} for label in labels}, "draws": {}}
tools:
  put:
    description: Put an item in a box; a missing box is reported, not raised, and still counts the attempt.
    effect: write
    params: {label: str, item: str}
    returns: any
    body: |
      if label not in state.boxes:
          state.boxes["lost+found"] = {"label": "lost+found", "items": [item]}
          return {"error": f"No box '{label}'."}
      box = state.boxes.edit(label)
      box["items"].append(item)
      return None
  contents:
    description: The items of a box, as a list.
    effect: read
    params: {label: str}
    returns: any
    error_when: >-
      isinstance(result, list) and len(result) > 0 and isinstance(result[0], str) and result[0].startswith("Error")
    body: |
      box = state.boxes.get(label)
      if box is None:
          return ["Error: no such box"]
      return list(box["items"])
  weigh:
    description: The weight of a box, exactly.
    effect: read
    params: {label: str}
    returns: any
    error_when: "False"
    body: |
      from decimal import Decimal
      return {"weight": Decimal(len(label)) / 4, "error": None}
    examples:
      - args: {label: ab}
        returns: {weight: "0.5", error: null}
  roll:
    description: Draw a number from the session's generator and keep it.
    effect: write
    returns: int
    render: json
    body: |
      value = rng.randint(1, 1000)
      record = {"key": "rolls", "values": [value]}
      if "rolls" in state.draws:
          record = state.draws.edit("rolls")
          record["values"].append(value)
      else:
          state.draws["rolls"] = record
      return value
views:
  labels:
    returns: "list[str]"
    body: |
      return sorted(state.boxes)
"""


@pytest.fixture
def shelf(compile_package: Any) -> Any:
    return compile_package(SPEC, "shelf_env")


def _client(module: Any, client: Client) -> EnvClient:
    """A client that unwraps results as the listed output schemas say."""
    schemas = {name: tool.mcp_tool.output_schema for name, tool in module.env.tools.items()}
    return EnvClient(client, "shelf", output_schemas=schemas)


async def test_python_render_shows_none_and_lists_as_python_writes_them(shelf: Any) -> None:
    async with Client(shelf.build(control=True), mode="legacy") as client:
        env = _client(shelf, client)
        put = await env.call_tool("put", {"label": "a", "item": "ink"})
        listed = await env.call_tool("contents", {"label": "a"})
    assert (put.text, put.is_error, put.value) == ("None", False, None)
    assert (listed.text, listed.is_error, listed.value) == ("['pen', 'ink']", False, ["pen", "ink"])


async def test_a_dict_that_json_cannot_write_is_shown_with_str(shelf: Any) -> None:
    async with Client(shelf.build(control=True), mode="legacy") as client:
        weighed = await _client(shelf, client).call_tool("weigh", {"label": "ab"})
    assert (weighed.text, weighed.is_error) == ("{'weight': Decimal('0.5'), 'error': None}", False)
    assert weighed.value == {"weight": "0.5", "error": None}


async def test_a_returned_error_value_is_an_error_result_that_keeps_its_writes(shelf: Any) -> None:
    async with Client(shelf.build(control=True), mode="legacy") as client:
        env = _client(shelf, client)
        put = await env.call_tool("put", {"label": "zz", "item": "ink"})
        labels = await env.view("labels")
    assert (put.text, put.is_error, put.error_code) == ('{"error": "No box \'zz\'."}', True, RETURNED_ERROR)
    assert put.value == {"error": "No box 'zz'."}
    assert labels == ["a", "lost+found"]


async def test_a_tool_rule_replaces_the_environments(shelf: Any) -> None:
    async with Client(shelf.build(control=True), mode="legacy") as client:
        env = _client(shelf, client)
        missing = await env.call_tool("contents", {"label": "zz"})
        weighed = await env.call_tool("weigh", {"label": "abcd"})
    assert (missing.text, missing.is_error, missing.error_code) == ("['Error: no such box']", True, RETURNED_ERROR)
    assert (weighed.text, weighed.is_error) == ("{'weight': Decimal('1'), 'error': None}", False)


async def test_json_render_on_one_tool_keeps_json_text(shelf: Any) -> None:
    async with Client(shelf.build(control=True), mode="legacy") as client:
        rolled = await _client(shelf, client).call_tool("roll", {})
    assert rolled.text == json.dumps(rolled.value)


async def test_a_scenario_body_that_reseeds_rng_fixes_the_sessions_draws(shelf: Any) -> None:
    async with Client(shelf.build(control=True), mode="legacy") as client:
        env = _client(shelf, client)
        await env.reset({"scenario": {"labels": ["b"], "draw_seed": 1234}}, seed=5)
        reseeded = [(await env.call_tool("roll", {})).value for _ in range(3)]
        await env.reset({"scenario": {"labels": ["b"]}}, seed=5)
        from_reset = [(await env.call_tool("roll", {})).value for _ in range(3)]
    mirror = random.Random(1234)
    assert reseeded == [mirror.randint(1, 1000) for _ in range(3)]
    mirror = random.Random(5)
    assert from_reset == [mirror.randint(1, 1000) for _ in range(3)]


def test_python_text_follows_the_harness_rules() -> None:
    assert python_text("plain") == "plain"
    assert python_text({"name": "café", "n": 1}) == '{"name": "caf\\u00e9", "n": 1}'
    assert python_text({"n": Decimal("1.5")}) == "{'n': Decimal('1.5')}"
    assert python_text([{"id": 0}, None, (1, 2)]) == "[{'id': 0}, None, (1, 2)]"
    assert python_text(None) == "None"
    assert python_text(2.0) == "2.0"
    assert python_text([..., True]) == "[Ellipsis, True]"


def test_python_json_writes_keys_as_json_does_and_marks_colliding_ones() -> None:
    assert python_json({1: "a", None: "b", 2.5: "c", False: "d"}) == {"1": "a", "null": "b", "2.5": "c", "false": "d"}
    assert python_json({"1": "x", 1: "y", 2: "z"}) == {"1": "x", "#int:1": "y", "#int:2": "z"}
    assert python_json({"ids": {12, 3, 40}, "pair": (1, "a")}) == {"ids": [12, 3, 40], "pair": [1, "a"]}
    assert python_json([math.inf, Decimal("2.50"), ...]) == [{"$float": "inf"}, "2.50", "Ellipsis"]


def _load_error(tmp_path: Path, text: str) -> list[tuple[str, int, str]]:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [(issue.path, issue.line, issue.message) for issue in caught.value.issues]


def test_an_error_rule_that_reads_the_state_is_a_located_error(tmp_path: Path) -> None:
    text = SPEC.replace('"error" in result\n', '"error" in state\n', 1)
    assert _load_error(tmp_path, text) == [("error_when", 6, "unknown name 'state'")]


def test_an_unknown_render_is_a_located_error(tmp_path: Path) -> None:
    text = SPEC.replace("    render: json\n", "    render: yaml\n")
    issues = _load_error(tmp_path, text)
    assert [(path, line) for path, line, _ in issues] == [("tools.roll.render", 71)]
    assert issues[0][2].startswith("Input should be 'json' or 'python'")


def test_servers_that_use_render_or_error_when_ask_for_runtime_api_1_1(compile_package: Any) -> None:
    module = compile_package(SPEC, "shelf_api")
    source = Path(module.__file__).read_text(encoding="utf-8")
    assert "check_api_version(1, 1, __name__)" in source
