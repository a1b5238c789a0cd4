"""`mcpfactory import bfcl`: BFCL's multi-turn entries, read from the installed bfcl-eval, as tasks we run.

Needs bfcl-eval 2026.3.23 (skipped with a clear message without it); the
base-category check against the recorded vectors also needs ../shared.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections import Counter
from pathlib import Path

import pytest

from harness.env import EpisodeConfig
from harness.policies import OraclePolicy, TrivialPolicy
from harness.runner import RunConfig, Runner
from mcpfactory.bfcl import CATEGORIES, CLASS_ENVS, BFCLSource, tool_descriptions, tool_parameters
from mcpfactory.cli import main
from mcpfactory.runtime import Task, load_tasks
from tests.conftest import CATALOG, SHARED

VECTORS = SHARED / "reference" / "bfcl"


def test_the_command_writes_a_category_and_bfcls_wording_of_the_tools(
    source: BFCLSource, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "bfcl", "--category", "miss_param", "--out", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["miss_param.jsonl", "tool-descriptions.json"]
    descriptions = tmp_path / "tool-descriptions.json"
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path / 'miss_param.jsonl'}: 200 task(s)",
        f"{descriptions}: BFCL's wording of the tools (rollout --tool-descriptions {descriptions})",
        f"200 task(s) from bfcl-eval {source.version}; run: mcpfactory rollout --tasks {tmp_path}",
    ]
    assert len(load_tasks(tmp_path)) == 200


def test_every_category_becomes_200_tasks_over_the_involved_classes_environments(
    source: BFCLSource, tasks: dict[str, Task]
) -> None:
    assert Counter(task.tags[1] for task in tasks.values()) == dict.fromkeys(CATEGORIES, 200)
    for category in CATEGORIES:
        for entry in source.entries(category):
            task = tasks[entry.id]
            assert task.envs == tuple(CLASS_ENVS[cls] for cls in entry.classes)
            assert (task.judge.kind, task.judge.view, task.judge.results) == ("turns", "bfcl", True)
            assert task.user is not None and (task.user.opening, *task.user.turns) == tuple(
                text or source.added_functions_prompt for text in entry.turns
            )
            assert [len([c for c in task.solution if c.turn == turn]) for turn in range(task.turns)] == [
                len(calls) for calls in entry.ground_truth
            ]
            for cls in entry.classes:
                scenario = task.initial_for(CLASS_ENVS[cls])
                assert scenario is not None
                # Key order matters (the file system's root is the config's first key): compare the JSON text.
                config = None if cls == "MathAPI" else entry.initial_config.get(cls, {})
                assert json.dumps(scenario["scenario"]) == json.dumps(
                    {"config": config, "long_context": category == "long_context"}
                )


def test_miss_func_holds_back_bfcls_missed_functions_until_the_turn_that_adds_them(
    source: BFCLSource, tasks: dict[str, Task]
) -> None:
    for entry in source.entries("miss_func"):
        missed = {name: int(turn) for turn, names in entry.raw["missed_function"].items() for name in names}
        task = tasks[entry.id]
        assert dict(task.tools_from_turn) == missed
        assert task.user is not None
        for turn in set(missed.values()):
            assert task.user.turns[turn - 1] == source.added_functions_prompt
    assert not any(tasks[entry.id].tools_from_turn for entry in source.entries("miss_param"))


@pytest.mark.skipif(not VECTORS.is_dir(), reason=f"the BFCL reference vectors are not at {VECTORS}")
def test_base_tasks_call_and_start_as_the_reference_vectors_recorded(tasks: dict[str, Task]) -> None:
    recorded: dict[str, list[tuple[int, int, str, object]]] = {}
    for cls, env in CLASS_ENVS.items():
        for line in (VECTORS / cls / "vectors-base.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            task = tasks[record["task"]]
            config = task.initial_for(env)
            assert config is not None
            assert json.dumps(config["scenario"]["config"]) == json.dumps(record["initial_config"]), (
                record["task"],
                cls,
            )
            for turn in record["turns"]:
                for call in turn["calls"]:
                    recorded.setdefault(record["task"], []).append(
                        (call["i"], turn["turn"], call["tool"], call["arguments"])
                    )
    assert len(recorded) == 200
    for task_id, calls in recorded.items():
        ours = [(call.turn, call.tool, dict(call.arguments)) for call in tasks[task_id].solution]
        assert ours == [(turn, tool, arguments) for _, turn, tool, arguments in sorted(calls)], task_id


def test_no_two_environments_offer_a_tool_of_the_same_name_as_no_two_bfcl_classes_share_a_method(
    source: BFCLSource,
) -> None:
    tools = tool_parameters(CLASS_ENVS.values(), CATALOG)
    names = Counter(name for env_tools in tools.values() for name in env_tools)
    assert [name for name, count in names.items() if count > 1] == []
    backends = importlib.import_module("bfcl_eval.constants.executable_backend_config").CLASS_FILE_PATH_MAPPING
    for cls, env in CLASS_ENVS.items():
        methods = {
            name
            for name, _ in inspect.getmembers(getattr(importlib.import_module(backends[cls]), cls), inspect.isfunction)
            if not name.startswith("_")
        }
        assert methods == set(tools[env]), cls


def test_the_tools_wording_is_bfcls_function_docs_with_its_language_note(source: BFCLSource) -> None:
    hint = importlib.import_module("bfcl_eval.utils")._get_language_specific_hint("multi_turn_base")
    texts = tool_descriptions(source)
    expected = {}
    for cls in CLASS_ENVS:
        for doc in source.function_docs(cls):
            parameters = {name: prop["description"] for name, prop in doc["parameters"]["properties"].items()}
            expected[doc["name"]] = {"description": doc["description"] + hint, "parameters": parameters}
    assert texts == expected
    assert set(texts) == {name for env in tool_parameters(CLASS_ENVS.values(), CATALOG).values() for name in env}


async def test_the_ground_truth_passes_and_a_bare_answer_fails_on_a_sample_of_each_category(
    source: BFCLSource, tasks: dict[str, Task]
) -> None:
    sample = [tasks[entry.id] for category in CATEGORIES for entry in source.entries(category)[::40]]
    config = RunConfig(episode=EpisodeConfig(max_turns=200))
    oracle = await Runner(OraclePolicy(), config, catalog=CATALOG).run(sample)
    assert [(r["task"], r["success"]) for r in oracle.records if not r["success"]] == []
    trivial = await Runner(TrivialPolicy("bare-done"), config, catalog=CATALOG).run(sample)
    assert [(r["task"], r["success"]) for r in trivial.records if r["success"] is not False] == []
    assert oracle.episodes == trivial.episodes == 20
