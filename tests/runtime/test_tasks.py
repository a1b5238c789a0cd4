"""The task model: read strictly, every mistake named by file, line and field, never a silently empty judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpfactory.runtime import Task, TaskFileError, load_tasks, parse_task
from tests.conftest import CATALOG

GOOD: dict[str, Any] = {
    "id": "t1",
    "env": "e",
    "instruction": "Deposit 5.",
    "solution": [{"tool": "deposit", "arguments": {"amount": 5}}],
    "judge": {"state": "match"},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(GOOD))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


def test_every_catalog_task_round_trips_through_its_json() -> None:
    for path in sorted(CATALOG.glob("*/tasks.jsonl")):
        for task in load_tasks(path):
            assert parse_task(task.to_json()) == task


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**GOOD, "judge": {"asertions": []}}, "judge.asertions", "unknown field (did you mean 'assertions'?)"),
        ({**GOOD, "instructions": "x"}, "instructions", "unknown field (did you mean 'instruction'?)"),
        (_with("judge.outputs", ["x"]), "judge.outputs", "unknown field (did you mean 'facts'?)"),
        (
            _with("judge.assertions", [{"path": ["a"], "op": "==", "value": 1, "vaule": 2}]),
            "judge.assertions[0].vaule",
            "unknown field (did you mean 'value'?)",
        ),
        (
            {**GOOD, "solution": [{"tool": "t", "args": {}}]},
            "solution[0].args",
            "unknown field (did you mean 'arguments'?)",
        ),
        (
            {**GOOD, "user_scenario": {"opening": "hi", "konwn": []}},
            "user_scenario.konwn",
            "unknown field (did you mean 'known'?)",
        ),
        (
            {k: v for k, v in GOOD.items() if k != "solution"},
            "solution",
            "missing (a list of calls; [] when the right outcome needs none)",
        ),
        ({**GOOD, "id": ""}, "id", "required, a non-empty string"),
        (_with("judge.state", "touched"), "judge.state", "'match' or 'none' (got 'touched')"),
        (
            _with("judge.assertions", [{"path": ["a"], "op": "~", "value": 1}]),
            "judge.assertions[0].op",
            "one of ==, !=, <, <=, >, >=, in, contains, exists, absent (got '~')",
        ),
        (
            _with("judge.assertions", [{"path": ["a"], "op": "=="}]),
            "judge.assertions[0].value",
            "op '==' needs a value",
        ),
        (_with("judge.facts", [""]), "judge.facts[0]", "an empty fact matches everything"),
        (
            _with("judge.facts", [{"date": "2024-13-01"}]),
            "judge.facts[0]",
            "'2024-13-01' is not an ISO date (YYYY-MM-DD)",
        ),
        (
            {**GOOD, "initial_state": {"seed": {}}},
            "initial_state.seed",
            "unknown field (allowed: patch, state, scenario, principal, scopes, clock)",
        ),
        ({**GOOD, "user_scenario": {"goal": "x"}}, "user_scenario.opening", "required, a non-empty string"),
        ({**GOOD, "difficulty": "trivial"}, "difficulty", "one of easy, medium, hard (got 'trivial')"),
    ],
)
def test_a_bad_task_is_refused_naming_the_field(data: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(TaskFileError) as caught:
        parse_task(data, path="tasks.jsonl", line=7)
    assert (caught.value.field, caught.value.message, caught.value.line) == (field, message, 7)


def test_a_bad_line_is_located_in_its_file(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + json.dumps({**GOOD, "id": "t2", "judge": {"asertions": []}}) + "\n")
    with pytest.raises(TaskFileError) as caught:
        load_tasks(path)
    assert str(caught.value) == f"{path}:3: judge.asertions: unknown field (did you mean 'assertions'?)"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json\n", "not JSON: Expecting property name enclosed in double quotes at column 2"),
        (b"\xff\xfe{}\n", "not UTF-8 (byte 1)"),
        (b"[" * 100_000 + b"\n", "JSON nested too deeply"),
    ],
)
def test_an_unreadable_line_is_an_error_not_a_traceback(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(content)
    with pytest.raises(TaskFileError) as caught:
        load_tasks(path)
    assert (caught.value.line, caught.value.message) == (1, message)


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n")
    with pytest.raises(TaskFileError) as caught:
        load_tasks(path)
    assert caught.value.message == f"duplicate task id 't1' (first at {path}:1)"


def test_a_folder_of_task_files_reads_as_one(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps(GOOD) + "\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({**GOOD, "id": "t2"}) + "\n")
    assert [task.id for task in load_tasks(tmp_path)] == ["t1", "t2"]


def test_the_agent_opens_with_the_users_line_not_the_instruction() -> None:
    task = parse_task({**GOOD, "user_scenario": {"opening": "Hi, I'd like to put some money in.", "known": ["5"]}})
    assert isinstance(task, Task)
    assert (task.opening, task.user and task.user.confirm) == ("Hi, I'd like to put some money in.", "yes")
    assert parse_task(GOOD).opening == "Deposit 5."
