"""An entry becomes a task only when it is one we can run as BFCL runs it; anything else is a located error.

No bfcl-eval needed: the entries are written here; the parameter orders come from the catalog's servers.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

import pytest

import mcpfactory.bfcl
from mcpfactory.bfcl import BFCL_EVAL_VERSION, CLASS_ENVS, BFCLError, Entry, bfcl_task, tool_parameters
from mcpfactory.runtime import parse_task
from tests.conftest import CATALOG, REPO

TOOLS = tool_parameters(CLASS_ENVS.values(), CATALOG)
PROMPT = "More tools now."


def _entry(**fields: Any) -> Entry:
    base: dict[str, Any] = {
        "id": "multi_turn_miss_func_7",
        "category": "miss_func",
        "classes": ("GorillaFileSystem", "MathAPI"),
        "initial_config": {"GorillaFileSystem": {"root": {"alex": {"type": "directory", "contents": {}}}}},
        "turns": ("Make a folder.", "Sort it.", "", "Average 1 and 3."),
        "ground_truth": (("mkdir(dir_name='a')",), (), ("sort('a.txt')",), ("mean(numbers=[1.0, 3.0])",)),
        "held_out": {"sort": 2},
        "raw": {},
    }
    return Entry(**{**base, **fields})


def test_an_entry_becomes_a_task_over_its_classes_environments_judged_turn_by_turn() -> None:
    task = bfcl_task(_entry(), TOOLS, PROMPT, {"MathAPI"})
    assert task == {
        "id": "multi_turn_miss_func_7",
        "env": ["bfcl_file_system", "bfcl_math"],
        "instruction": "BFCL multi-turn miss_func task multi_turn_miss_func_7: 4 user turns over GorillaFileSystem, MathAPI.",
        "user_scenario": {"opening": "Make a folder.", "turns": ["Sort it.", PROMPT, "Average 1 and 3."]},
        "initial_state": {
            "bfcl_file_system": {
                "scenario": {"config": {"root": {"alex": {"type": "directory", "contents": {}}}}, "long_context": False}
            },
            "bfcl_math": {"scenario": {"config": None, "long_context": False}},
        },
        "solution": [
            {"tool": "mkdir", "arguments": {"dir_name": "a"}, "turn": 0},
            {"tool": "sort", "arguments": {"file_name": "a.txt"}, "turn": 2},
            {"tool": "mean", "arguments": {"numbers": [1.0, 3.0]}, "turn": 3},
        ],
        "judge": {"kind": "turns", "view": "bfcl"},
        "tags": ["bfcl", "miss_func"],
        "tools_from_turn": {"sort": 2},
    }
    assert parse_task(task).turns == 4


def test_one_class_makes_a_task_of_one_environment_and_long_context_builds_the_long_variant() -> None:
    entry = _entry(
        id="multi_turn_long_context_3",
        category="long_context",
        classes=("GorillaFileSystem",),
        turns=("Make a folder.",),
        ground_truth=(("mkdir(dir_name='a')",),),
        held_out={},
    )
    task = bfcl_task(entry, TOOLS, PROMPT)
    assert (task["env"], task["initial_state"]["scenario"]["long_context"]) == ("bfcl_file_system", True)
    assert "tools_from_turn" not in task


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"ground_truth": (("rm_rf('/')",), (), (), ())},
            "multi_turn_miss_func_7.ground_truth[0][0]: \"rm_rf('/')\": 'rm_rf' is not a tool of the task's environments",
        ),
        (
            {"ground_truth": (("post_tweet(content='x')",), (), (), ())},
            "multi_turn_miss_func_7.ground_truth[0][0]: \"post_tweet(content='x')\": 'post_tweet' is not a tool of the task's environments",
        ),
        (
            {"held_out": {"sort": 2, "shred": 2}},
            "multi_turn_miss_func_7.missed_function: held-out shred are not tools of the task",
        ),
        ({"held_out": {}}, "multi_turn_miss_func_7.question[2]: a turn with no user message that adds no function"),
        ({"turns": ("Go.", "Go.", "", "Stop.")}, "multi_turn_miss_func_7.question: two turns say the same thing"),
    ],
)
def test_an_entry_that_is_not_a_runnable_task_is_refused_naming_where(fields: Mapping[str, Any], message: str) -> None:
    with pytest.raises(BFCLError) as caught:
        bfcl_task(_entry(**fields), TOOLS, PROMPT)
    assert str(caught.value) == message


def test_the_package_exports_what_it_defines() -> None:
    exported = set(mcpfactory.bfcl.__all__)
    assert all(hasattr(mcpfactory.bfcl, name) for name in exported)
    defined = {
        name
        for name, value in vars(mcpfactory.bfcl).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("mcpfactory.bfcl")
    }
    assert defined <= exported


def test_the_bfcl_extra_pins_the_release_the_import_reads() -> None:
    # CI installs the release this constant names, so only the extra can drift from it.
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["optional-dependencies"]["bfcl"] == [f"bfcl-eval=={BFCL_EVAL_VERSION}"]
