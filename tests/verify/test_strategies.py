"""Drawing calls: seeded, aimed at records that exist, and broken on purpose when meant to be."""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from mcpfactory.compiler import compile_spec
from mcpfactory.spec import load_spec
from mcpfactory.verify._strategies import CallSpace, CreatedKey
from tests.verify.conftest import SHOP


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallSpace]:
    root = tmp_path_factory.mktemp("strategies")
    shutil.copytree(SHOP, root / "shop_strategies")
    compile_spec(root / "shop_strategies" / "spec.yaml")
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("shop_strategies.server")
        tools = {name: tool.mcp_tool for name, tool in module.env.tools.items()}
        yield CallSpace(tools, load_spec(root / "shop_strategies" / "spec.yaml"))
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("shop_strategies")]:
            del sys.modules[name]


def test_the_same_seed_draws_the_same_sequences(space: CallSpace) -> None:
    assert space.programs(30, seed=5) == space.programs(30, seed=5)
    assert space.programs(30, seed=5) != space.programs(30, seed=6)


def test_reference_parameters_mostly_name_records_that_exist(space: CallSpace) -> None:
    calls = [call for program in space.programs(80, seed=1) for call in program if call.tool == "get_order"]
    named: list[Any] = [call.arguments.get("order_id") for call in calls if call.meant_valid]
    existing = sum(value in space.keys["orders"] or isinstance(value, CreatedKey) for value in named)
    assert len(named) >= 10
    assert existing / len(named) > 0.6


def test_calls_meant_invalid_break_the_input_schema_and_the_others_keep_it(space: CallSpace) -> None:
    calls = [call for program in space.programs(80, seed=2) for call in program]
    for call in calls:
        arguments = space.resolve(call.arguments, {})
        valid = jsonschema.Draft202012Validator(space.tools[call.tool].input_schema).is_valid(arguments)
        assert valid is call.meant_valid, call
    assert 0.05 < sum(not c.meant_valid for c in calls) / len(calls) < 0.35


def test_the_sweep_tries_every_value_of_an_enumerated_parameter(space: CallSpace) -> None:
    sweep = [program[0] for program in space.sweep(seed=0)]
    reasons = {call.arguments.get("reason") for call in sweep if call.tool == "cancel_order"}
    assert {"no_longer_needed", "ordered_by_mistake"} <= reasons
    categories = {call.arguments.get("category") for call in sweep if call.tool == "search_products"}
    assert {"books", "games", "kitchen", "garden", "toys", None} <= categories


def test_created_keys_resolve_to_records_the_sequence_made(space: CallSpace) -> None:
    changes = {"orders": {"O0001": None, "W0001": {"order_id": "W0001"}}}
    assert space.resolve({"order_id": CreatedKey("orders", 3)}, changes) == {"order_id": "W0001"}
    assert space.resolve({"order_id": CreatedKey("orders", 0)}, {"orders": {}}) == {"order_id": space.keys["orders"][0]}
