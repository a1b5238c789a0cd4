"""Episodes over several servers at once, with scripted user turns, judged turn by turn.

Built from one BFCL base task of the shared reference (file system + math):
its calls per turn are the solution, its initial configuration the scenario.
Skipped without ../shared.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.policies import OraclePolicy, TrivialPolicy
from harness.runner import Runner
from mcpfactory.runtime import parse_task
from tests.conftest import CATALOG, SHARED

BFCL = SHARED / "reference" / "bfcl"
pytestmark = pytest.mark.skipif(not BFCL.is_dir(), reason=f"the BFCL reference vectors are not at {BFCL}")

CLASSES = {"GorillaFileSystem": "bfcl_file_system", "MathAPI": "bfcl_math"}


def _vector(cls: str, task: str) -> dict[str, Any]:
    for line in (BFCL / cls / "vectors-base.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["task"] == task:
            return dict(record)
    raise AssertionError(f"{task} is not among {cls}'s vectors")


def _task(task: str = "multi_turn_base_15") -> Any:
    vectors = {env: _vector(cls, task) for cls, env in CLASSES.items()}
    calls = sorted(
        (call["i"], turn["turn"], call["tool"], call["arguments"])
        for record in vectors.values()
        for turn in record["turns"]
        for call in turn["calls"]
    )
    turns = len(vectors["bfcl_file_system"]["turns"])
    return parse_task(
        {
            "id": task,
            "env": list(CLASSES.values()),
            "instruction": "A BFCL multi-turn task over the file system and math tools.",
            "user_scenario": {"opening": "Turn 0.", "turns": [f"Turn {n}." for n in range(1, turns)]},
            "initial_state": {
                env: {"scenario": {"config": record["initial_config"], "long_context": False}}
                for env, record in vectors.items()
            },
            "solution": [{"tool": tool, "arguments": args, "turn": turn} for _, turn, tool, args in calls],
            "judge": {"kind": "turns", "view": "bfcl"},
        }
    )


async def test_the_reference_calls_played_turn_by_turn_over_two_servers_succeed() -> None:
    task = _task()
    summary = await Runner(OraclePolicy(), catalog=CATALOG).run([task])
    (record,) = summary.records
    assert (record["termination"], record["success"]) == ("answered", True), record["judge_failures"]
    assert record["reward_components"]["turns"] == {"passed": 5, "total": 5, "failed": []}
    assert {call["tool"] for call in record["calls"]} == {"touch", "echo", "tail", "wc", "mean"}


async def test_an_agent_that_only_answers_fails_every_turn_with_calls() -> None:
    summary = await Runner(TrivialPolicy("bare-done"), catalog=CATALOG).run([_task()])
    (record,) = summary.records
    assert record["success"] is False
    assert record["reward_components"]["turns"]["failed"] == [0, 1, 2, 3, 4]
