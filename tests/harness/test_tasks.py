"""Tasks files: read as data, with errors that name the file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import TaskFileError
from harness.tasks import Task, load_tasks


def test_a_task_round_trips_through_its_json(ledger_tasks: list[Task]) -> None:
    for task in ledger_tasks:
        assert Task.from_json(task.to_json()) == task


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("not json", "", "not JSON: Expecting value"),
        ('{"id": "t", "env": "e"}', "instruction", "required, a non-empty string"),
        (
            '{"id": "t", "env": "e", "instruction": "x", "solution": [{"args": {}}]}',
            "solution[0]",
            'expected {"tool": str, "arguments": {...}}',
        ),
        (
            '{"id": "t", "env": "e", "instruction": "x", "judge": {"state": "some"}}',
            "judge.state",
            "one of touched, full, none (got 'some')",
        ),
        (
            '{"id": "t", "env": "e", "instruction": "x", "judge": {"assertions": [{"path": ["a"], "op": "~"}]}}',
            "judge.assertions[0].op",
            "one of ==, !=, <, <=, >, >=, in, contains, exists, absent (got '~')",
        ),
        (
            '{"id": "t", "env": "e", "instruction": "x", "initial_state": {"seed": 1}}',
            "initial_state",
            'null, {"patch": {...}} or {"state": {...}}',
        ),
    ],
)
def test_a_bad_task_line_is_reported_with_its_line_and_field(
    tmp_path: Path, line: str, field: str, message: str
) -> None:
    path = tmp_path / "tasks.jsonl"
    good = json.dumps({"id": "ok", "env": "e", "instruction": "x"})
    path.write_text(f"{good}\n\n{line}\n")
    with pytest.raises(TaskFileError) as caught:
        load_tasks(path)
    assert (caught.value.line, caught.value.field, caught.value.message) == (3, field, message)
    assert str(caught.value).startswith(f"{path}:3: ")


def test_duplicate_task_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    line = json.dumps({"id": "t", "env": "e", "instruction": "x"})
    path.write_text(f"{line}\n{line}\n")
    with pytest.raises(TaskFileError, match="duplicate task id 't'"):
        load_tasks(path)
