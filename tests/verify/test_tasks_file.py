"""Reading tasks.jsonl: every line that is not a task is named with its line number."""

from __future__ import annotations

import json
from pathlib import Path

from mcpfactory.verify._tasks import Assertion, load_tasks
from tests.verify.conftest import SHOP


def test_the_shop_tasks_read_cleanly() -> None:
    tasks, problems = load_tasks(SHOP / "tasks.jsonl")
    assert problems == []
    assert [t.id for t in tasks] == [f"shop-{n:04d}" for n in range(1, 8)]
    assert tasks[0].judge.assertions[1] == Assertion(("products", "p003", "stock"), "==", 49)
    assert tasks[4].refusal


def test_bad_lines_are_reported_by_number(tmp_path: Path) -> None:
    good = {"id": "t1", "instruction": "x", "solution": [], "judge": {"state": "none"}}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "id": "t2", "judge": {"state": "partial"}}),
        json.dumps({**good, "id": "t3", "judge": {"assertions": [{"path": ["a"], "op": "~="}]}}),
        json.dumps(good),
        json.dumps({**good, "id": "t4", "solution": [{"arguments": {}}]}),
    ]
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tasks, problems = load_tasks(path)
    assert [t.id for t in tasks] == ["t1", "t1"]
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "5", "6"]
    assert "duplicate task id 't1'" in problems[3]
