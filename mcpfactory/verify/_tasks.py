"""Read `tasks.jsonl` (see docs/tasks.md) into typed tasks, naming each line that is not one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["OPS", "Assertion", "Judge", "SolutionCall", "Task", "load_tasks"]

OPS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "contains", "exists", "absent"})
StateRule = Literal["touched", "full", "none"]


@dataclass(frozen=True, slots=True)
class SolutionCall:
    tool: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Assertion:
    path: tuple[str | int, ...]
    op: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class Judge:
    state: StateRule = "touched"
    assertions: tuple[Assertion, ...] = ()
    outputs: tuple[str, ...] = ()
    ignore_args: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    line: int
    instruction: str
    initial_state: dict[str, Any] | None
    solution: tuple[SolutionCall, ...]
    judge: Judge
    tags: tuple[str, ...] = ()

    @property
    def refusal(self) -> bool:
        return "refusal" in self.tags


class TaskFormatError(ValueError):
    """A line of tasks.jsonl that is not a task."""


def load_tasks(path: Path) -> tuple[list[Task], list[str]]:
    """Read every task; return the tasks and one problem per line that is not a well-formed task."""
    tasks: list[Task] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON: {exc.msg}")
            continue
        try:
            task = _task(data, number)
        except TaskFormatError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if task.id in seen:
            problems.append(f"{where}: duplicate task id {task.id!r}")
        seen.add(task.id)
        tasks.append(task)
    return tasks, problems


def _task(data: Any, line: int) -> Task:
    if not isinstance(data, dict):
        raise TaskFormatError("a task is a JSON object")
    for name in ("id", "instruction", "solution", "judge"):
        if name not in data:
            raise TaskFormatError(f"missing field '{name}'")
    if not isinstance(data["id"], str) or not data["id"]:
        raise TaskFormatError("'id' must be a non-empty string")
    initial = data.get("initial_state")
    if initial is not None and not (
        isinstance(initial, dict) and len(initial) == 1 and set(initial) <= {"patch", "state"}
    ):
        raise TaskFormatError('\'initial_state\' must be null, {"patch": ...} or {"state": ...}')
    solution = data["solution"]
    if not isinstance(solution, list):
        raise TaskFormatError("'solution' must be a list of calls")
    calls = []
    for index, call in enumerate(solution):
        if not (isinstance(call, dict) and isinstance(call.get("tool"), str)):
            raise TaskFormatError(f'solution[{index}] must be {{"tool": str, "arguments": object}}')
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict):
            raise TaskFormatError(f"solution[{index}].arguments must be an object")
        calls.append(SolutionCall(call["tool"], arguments))
    return Task(
        id=data["id"],
        line=line,
        instruction=str(data["instruction"]),
        initial_state=initial,
        solution=tuple(calls),
        judge=_judge(data["judge"]),
        tags=tuple(str(t) for t in data.get("tags") or ()),
    )


def _judge(data: Any) -> Judge:
    if not isinstance(data, dict):
        raise TaskFormatError("'judge' must be an object")
    unknown = set(data) - {"state", "assertions", "outputs", "ignore_args"}
    if unknown:
        raise TaskFormatError(f"unknown judge field(s): {', '.join(sorted(unknown))}")
    state = data.get("state", "touched")
    if state not in ("touched", "full", "none"):
        raise TaskFormatError(f"judge.state must be touched, full or none, not {state!r}")
    assertions = []
    for index, item in enumerate(data.get("assertions") or ()):
        if not isinstance(item, dict) or not isinstance(item.get("path"), list) or item.get("op") not in OPS:
            raise TaskFormatError(f"judge.assertions[{index}] needs a path (list) and an op in {sorted(OPS)}")
        if item["op"] not in ("exists", "absent") and "value" not in item:
            raise TaskFormatError(f"judge.assertions[{index}] with op {item['op']!r} needs a value")
        assertions.append(Assertion(tuple(item["path"]), item["op"], item.get("value")))
    outputs = data.get("outputs") or []
    if not all(isinstance(o, str) for o in outputs):
        raise TaskFormatError("judge.outputs must be strings")
    ignore = data.get("ignore_args") or {}
    if not isinstance(ignore, dict) or not all(isinstance(v, list) for v in ignore.values()):
        raise TaskFormatError("judge.ignore_args must map tool names to lists of argument names")
    return Judge(
        state=state,
        assertions=tuple(assertions),
        outputs=tuple(outputs),
        ignore_args={tool: tuple(names) for tool, names in ignore.items()},
    )
