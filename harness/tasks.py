"""Tasks as data: read `servers/<env>/tasks.jsonl` (see docs/tasks.md) and find the catalog.

The harness reads tasks and never imports `mcpfactory`, so the few lines that
locate the catalog are repeated here rather than shared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from harness.errors import TaskFileError

__all__ = [
    "Assertion",
    "Call",
    "Judge",
    "Task",
    "catalog_envs",
    "catalog_root",
    "env_tasks",
    "load_tasks",
    "read_spec_sha256",
]

StateRule = Literal["touched", "full", "none"]
_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "contains", "exists", "absent")


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call of a reference solution."""

    tool: str
    arguments: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "arguments": dict(self.arguments)}


@dataclass(frozen=True, slots=True)
class Assertion:
    """A check on the final state: the value at `path` compared by `op` with `value`."""

    path: tuple[str | int, ...]
    op: str
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"path": list(self.path), "op": self.op, "value": self.value}


@dataclass(frozen=True, slots=True)
class Judge:
    """How a task's outcome is judged; every part is deterministic."""

    state: StateRule = "touched"
    assertions: tuple[Assertion, ...] = ()
    outputs: tuple[str, ...] = ()
    ignore_args: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Task:
    """One task of an environment: an instruction, where it starts, a reference solution and a judge."""

    id: str
    env: str
    instruction: str
    solution: tuple[Call, ...] = ()
    judge: Judge = field(default_factory=Judge)
    initial_state: Mapping[str, Any] | None = None
    user_scenario: str | None = None
    difficulty: str | None = None
    tags: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any, *, path: Path | str = "<task>", line: int = 0) -> Task:
        """Build a task from its JSON object; raise `TaskFileError` naming the bad field."""

        def fail(where: str, message: str) -> TaskFileError:
            return TaskFileError(path, line, where, message)

        if not isinstance(data, dict):
            raise fail("", "a task is a JSON object")
        for name in ("id", "env", "instruction"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise fail(name, "required, a non-empty string")
        initial = data.get("initial_state")
        if initial is not None and not (
            isinstance(initial, dict) and set(initial) <= {"patch", "state"} and len(initial) == 1
        ):
            raise fail("initial_state", 'null, {"patch": {...}} or {"state": {...}}')
        solution = []
        for index, call in enumerate(data.get("solution") or []):
            if not isinstance(call, dict) or not isinstance(call.get("tool"), str):
                raise fail(f"solution[{index}]", 'expected {"tool": str, "arguments": {...}}')
            arguments = call.get("arguments") or {}
            if not isinstance(arguments, dict):
                raise fail(f"solution[{index}].arguments", "an object")
            solution.append(Call(call["tool"], arguments))
        judge = _judge(data.get("judge") or {}, fail)
        scenario = data.get("user_scenario")
        if scenario is not None and not isinstance(scenario, str):
            scenario = json.dumps(scenario, ensure_ascii=False)
        tags = data.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise fail("tags", "a list of strings")
        return cls(
            id=data["id"],
            env=data["env"],
            instruction=data["instruction"],
            solution=tuple(solution),
            judge=judge,
            initial_state=initial,
            user_scenario=scenario,
            difficulty=data.get("difficulty"),
            tags=tuple(tags),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the task as the JSON object it was read from (normalised)."""
        return {
            "id": self.id,
            "env": self.env,
            "instruction": self.instruction,
            "user_scenario": self.user_scenario,
            "initial_state": self.initial_state,
            "solution": [call.to_json() for call in self.solution],
            "judge": {
                "state": self.judge.state,
                "assertions": [a.to_json() for a in self.judge.assertions],
                "outputs": list(self.judge.outputs),
                "ignore_args": {tool: list(names) for tool, names in self.judge.ignore_args.items()},
            },
            "difficulty": self.difficulty,
            "tags": list(self.tags),
        }


def _judge(data: Any, fail: Any) -> Judge:
    if not isinstance(data, dict):
        raise fail("judge", "an object")
    state = data.get("state", "touched")
    if state not in ("touched", "full", "none"):
        raise fail("judge.state", f"one of touched, full, none (got {state!r})")
    assertions = []
    for index, item in enumerate(data.get("assertions") or []):
        where = f"judge.assertions[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("path"), list) or not item["path"]:
            raise fail(where, 'expected {"path": [...], "op": ..., "value": ...}')
        if item.get("op") not in _OPS:
            raise fail(f"{where}.op", f"one of {', '.join(_OPS)} (got {item.get('op')!r})")
        assertions.append(Assertion(tuple(item["path"]), item["op"], item.get("value")))
    outputs = data.get("outputs") or []
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise fail("judge.outputs", "a list of strings")
    ignore = data.get("ignore_args") or {}
    if not isinstance(ignore, dict) or not all(
        isinstance(v, list) and all(isinstance(n, str) for n in v) for v in ignore.values()
    ):
        raise fail("judge.ignore_args", "an object {tool: [argument names]}")
    return Judge(
        state=cast(StateRule, state),
        assertions=tuple(assertions),
        outputs=tuple(outputs),
        ignore_args={tool: tuple(names) for tool, names in ignore.items()},
    )


def load_tasks(path: Path | str, *, env: str | None = None, ids: Sequence[str] | None = None) -> list[Task]:
    """Read a tasks JSONL file; keep only `env`'s tasks and the listed `ids` when given.

    Raises `TaskFileError` (file, line, field) for a line that is not a task.
    """
    path = Path(path)
    tasks: list[Task] = []
    seen: set[tuple[str, str]] = set()
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskFileError(path, number, "", f"not JSON: {exc.msg}") from None
        task = Task.from_json(data, path=path, line=number)
        if (task.env, task.id) in seen:
            raise TaskFileError(path, number, "id", f"duplicate task id {task.id!r}")
        seen.add((task.env, task.id))
        if (env is None or task.env == env) and (ids is None or task.id in ids):
            tasks.append(task)
    return tasks


def catalog_root() -> Path:
    """Return the `servers/` folder: beside the working directory if it has one, else the installed package."""
    local = Path.cwd() / "servers"
    if (local / "__init__.py").exists():
        return local
    import servers

    return Path(servers.__file__).parent


def catalog_envs(root: Path | None = None) -> list[str]:
    """Environments that have both a compiled server and a tasks file, sorted."""
    root = root or catalog_root()
    return sorted(path.parent.name for path in root.glob("*/tasks.jsonl") if (path.parent / "server.py").exists())


def verification_problem(env: str, root: Path | None = None) -> str | None:
    """Why `env` may not be used (unverified, quarantined, or verified for another spec), or None if it may.

    Reads the verifier's manifest, `servers/verified.json`, as data, and compares
    its spec hash with the one in the compiled server's provenance header.
    """
    root = root or catalog_root()
    manifest = root / "verified.json"
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8")).get("environments", {})
    except (OSError, json.JSONDecodeError):
        return f"{env}: no verifier manifest at {manifest} (run: mcpfactory verify)"
    entry = entries.get(env)
    if not isinstance(entry, dict):
        return f"{env}: not verified (run: mcpfactory verify {env})"
    if entry.get("status") != "verified":
        return f"{env}: quarantined by the verifier ({entry.get('status')})"
    if entry.get("spec_sha256") != read_spec_sha256(root / env / "server.py"):
        return f"{env}: verified for another version of its spec (run: mcpfactory verify {env})"
    return None


def env_tasks(env: str, root: Path | None = None) -> list[Task]:
    """Read the catalog's tasks of one environment; raise `LookupError` if it has none."""
    path = (root or catalog_root()) / env / "tasks.jsonl"
    if not path.exists():
        raise LookupError(f"environment {env!r} has no tasks file ({path})")
    return load_tasks(path, env=env)


def read_spec_sha256(server_py: Path) -> str | None:
    """Read the spec hash from a generated server's provenance header, or None if it has none."""
    try:
        with server_py.open(encoding="utf-8") as handle:
            for _ in range(5):
                line = handle.readline()
                if line.startswith("# spec sha256"):
                    return line.rsplit(":", 1)[1].strip()
    except OSError:
        return None
    return None
