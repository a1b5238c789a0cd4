"""The task model: one task per line of `servers/<env>/tasks.jsonl`, read strictly (docs/tasks.md).

Every command that reads tasks (rollout, verify, synth) reads them here, so a
task means the same thing everywhere. Reading is strict: an unknown field, at
any depth, is an error naming the file, line and field, with a suggestion for
a near miss (`asertions` -> `assertions`), never a silently empty judge.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, cast

from ._errors import TaskFileError
from ._facts import Fact, parse_fact

__all__ = [
    "OPS",
    "Assertion",
    "Call",
    "Judge",
    "Task",
    "UserScenario",
    "load_tasks",
    "parse_task",
]

OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "contains", "exists", "absent")
StateRule = Literal["match", "none"]
MAX_TASK_LINE = 4 * 1024 * 1024  # bytes; a longer line is refused before it is parsed

_TASK_FIELDS = (
    "id",
    "env",
    "instruction",
    "user_scenario",
    "initial_state",
    "solution",
    "judge",
    "difficulty",
    "tags",
)
_JUDGE_FIELDS = ("state", "mask", "any_key", "assertions", "facts", "never", "ignore_args")
_SCENARIO_FIELDS = ("opening", "goal", "known", "unknown", "persona", "confirm", "stop", "turns")
_DIFFICULTIES = ("easy", "medium", "hard")
# Fields of the first task format, and what they are called now.
_RENAMED = {"outputs": "facts", "never_disclose": "never", "mask_fields": "mask"}


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
        out: dict[str, Any] = {"path": list(self.path), "op": self.op}
        if self.op not in ("exists", "absent"):
            out["value"] = self.value
        return out


@dataclass(frozen=True, slots=True)
class Judge:
    """How a run is judged; every part is deterministic.

    - `state`: `match` compares the final state with the reference solution's
      record by record (masked fields aside); `none` skips it.
    - `mask`: per collection, the fields that do not matter (free text the
      user did not specify, values of ignored arguments).
    - `any_key`: collections whose new records match the reference's by
      content, whatever key they were given (generated ids whose order may
      legitimately differ).
    - `assertions`: checks on the final state.
    - `facts`: what the conversation must state; `never`: what it must never
      state (another customer's data, data read before identity was established).
    - `ignore_args`: per tool, arguments that do not matter when the agent's
      calls are compared with the solution's.
    """

    state: StateRule = "match"
    mask: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    any_key: tuple[str, ...] = ()
    assertions: tuple[Assertion, ...] = ()
    facts: tuple[Fact, ...] = ()
    never: tuple[Fact, ...] = ()
    ignore_args: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        if self.mask:
            out["mask"] = {coll: list(fields) for coll, fields in self.mask.items()}
        if self.any_key:
            out["any_key"] = list(self.any_key)
        out["assertions"] = [a.to_json() for a in self.assertions]
        out["facts"] = [f.to_json() for f in self.facts]
        if self.never:
            out["never"] = [f.to_json() for f in self.never]
        out["ignore_args"] = {tool: list(names) for tool, names in self.ignore_args.items()}
        return out


@dataclass(frozen=True, slots=True)
class UserScenario:
    """The user an agent talks to: what they want, know and do not know, and how they behave.

    `opening` is the user's first message, the first thing the agent sees.
    A simulated user answers from `known` when asked, never volunteers the
    solution, answers a request to confirm with `confirm`, and ends the
    conversation when `stop` says. `turns`, when given, are further user
    messages sent one after another, each after the agent's answer to the
    previous one (scripted multi-turn tasks).
    """

    opening: str
    goal: str = ""
    known: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    persona: str = ""
    confirm: str = "yes"
    stop: str = ""
    turns: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"opening": self.opening}
        for name in ("goal", "persona", "stop"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("known", "unknown", "turns"):
            if getattr(self, name):
                out[name] = list(getattr(self, name))
        out["confirm"] = self.confirm
        return out


@dataclass(frozen=True, slots=True)
class Task:
    """One task of an environment: who the user is, where it starts, a reference solution and a judge.

    `instruction` says what the task asks, for people and reports; the agent
    sees the user's `opening` (the instruction only when a task has no scenario).
    """

    id: str
    env: str
    instruction: str
    solution: tuple[Call, ...] = ()
    judge: Judge = field(default_factory=Judge)
    initial_state: Mapping[str, Any] | None = None
    user: UserScenario | None = None
    difficulty: str | None = None
    tags: tuple[str, ...] = ()
    source: str = field(default="<task>", compare=False)
    line: int = field(default=0, compare=False)

    @property
    def refusal(self) -> bool:
        """Whether the right outcome is a refusal under the environment's policy."""
        return "refusal" in self.tags

    @property
    def opening(self) -> str:
        """The first user message the agent sees."""
        return self.user.opening if self.user is not None else self.instruction

    @property
    def where(self) -> str:
        """`file:line` of the task, for messages."""
        return f"{self.source}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        """Return the task as the JSON object it is stored as (normalised)."""
        return {
            "id": self.id,
            "env": self.env,
            "instruction": self.instruction,
            "user_scenario": self.user.to_json() if self.user is not None else None,
            "initial_state": dict(self.initial_state) if self.initial_state is not None else None,
            "solution": [call.to_json() for call in self.solution],
            "judge": self.judge.to_json(),
            "difficulty": self.difficulty,
            "tags": list(self.tags),
        }


class _Reader:
    """Parse one task object, raising `TaskFileError` at the first field that is wrong."""

    def __init__(self, path: Path | str, line: int) -> None:
        self.path = path
        self.line = line

    def fail(self, where: str, message: str) -> NoReturn:
        raise TaskFileError(self.path, self.line, where, message)

    def fields(self, data: Any, where: str, allowed: Sequence[str], what: str) -> Mapping[str, Any]:
        if not isinstance(data, dict):
            self.fail(where, f"{what} is a JSON object")
        for name in data:
            if name not in allowed:
                close = [_RENAMED[name]] if _RENAMED.get(name) in allowed else []
                close = close or difflib.get_close_matches(str(name), allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
                self.fail(_join(where, str(name)), f"unknown field{hint}")
        return cast(Mapping[str, Any], data)

    def text(self, data: Mapping[str, Any], name: str, where: str, *, required: bool = True) -> str:
        value = data.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(_join(where, name), "required, a non-empty string" if required else "a string")
        return value

    def strings(self, data: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
        value = data.get(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(_join(where, name), "a list of strings")
        return tuple(value)

    def task(self, data: Any) -> Task:
        data = self.fields(data, "", _TASK_FIELDS, "a task")
        for name in ("id", "env", "instruction", "judge"):
            if name not in data:
                self.fail(name, "missing (a task needs id, env, instruction, solution and judge)")
        initial = data.get("initial_state")
        if initial is not None:
            initial = self.fields(initial, "initial_state", ("patch", "state", "scenario"), "initial_state")
            if len(initial) != 1 or not isinstance(next(iter(initial.values())), dict):
                self.fail("initial_state", 'null, {"patch": {...}}, {"state": {...}} or {"scenario": {...}}')
        difficulty = data.get("difficulty")
        if difficulty is not None and difficulty not in _DIFFICULTIES:
            self.fail("difficulty", f"one of {', '.join(_DIFFICULTIES)} (got {difficulty!r})")
        return Task(
            id=self.text(data, "id", ""),
            env=self.text(data, "env", ""),
            instruction=self.text(data, "instruction", ""),
            solution=self.solution(data.get("solution")),
            judge=self.judge(data["judge"]),
            initial_state=initial,
            user=self.scenario(data.get("user_scenario")),
            difficulty=difficulty,
            tags=self.strings(data, "tags", ""),
            source=str(self.path),
            line=self.line,
        )

    def solution(self, data: Any) -> tuple[Call, ...]:
        if data is None:
            self.fail("solution", "missing (a list of calls; [] when the right outcome needs none)")
        if not isinstance(data, list):
            self.fail("solution", "a list of calls")
        calls = []
        for index, item in enumerate(data):
            where = f"solution[{index}]"
            item = self.fields(item, where, ("tool", "arguments"), "a call")
            tool = self.text(item, "tool", where)
            arguments = item.get("arguments", {})
            if not isinstance(arguments, dict):
                self.fail(f"{where}.arguments", "an object")
            calls.append(Call(tool, arguments))
        return tuple(calls)

    def scenario(self, data: Any) -> UserScenario | None:
        if data is None:
            return None
        where = "user_scenario"
        data = self.fields(data, where, _SCENARIO_FIELDS, "user_scenario")
        confirm = data.get("confirm", "yes")
        if not isinstance(confirm, str) or not confirm.strip():
            self.fail(f"{where}.confirm", "a non-empty string (what the user says when asked to confirm)")
        return UserScenario(
            opening=self.text(data, "opening", where),
            goal=self.text(data, "goal", where, required=False),
            known=self.strings(data, "known", where),
            unknown=self.strings(data, "unknown", where),
            persona=self.text(data, "persona", where, required=False),
            confirm=confirm,
            stop=self.text(data, "stop", where, required=False),
            turns=self.strings(data, "turns", where),
        )

    def judge(self, data: Any) -> Judge:
        data = self.fields(data, "judge", _JUDGE_FIELDS, "judge")
        state = data.get("state", "match")
        if state not in ("match", "none"):
            self.fail("judge.state", f"'match' or 'none' (got {state!r})")
        mask = data.get("mask") or {}
        if not isinstance(mask, dict) or not all(
            isinstance(v, list) and all(isinstance(n, str) for n in v) for v in mask.values()
        ):
            self.fail("judge.mask", "an object {collection: [field names]}")
        ignore = data.get("ignore_args") or {}
        if not isinstance(ignore, dict) or not all(
            isinstance(v, list) and all(isinstance(n, str) for n in v) for v in ignore.values()
        ):
            self.fail("judge.ignore_args", "an object {tool: [argument names]}")
        return Judge(
            state=cast(StateRule, state),
            mask={coll: tuple(fields) for coll, fields in mask.items()},
            any_key=self.strings(data, "any_key", "judge"),
            assertions=tuple(self.assertion(item, index) for index, item in enumerate(self.items(data, "assertions"))),
            facts=self.facts(data, "facts"),
            never=self.facts(data, "never"),
            ignore_args={tool: tuple(names) for tool, names in ignore.items()},
        )

    def items(self, data: Mapping[str, Any], name: str) -> list[Any]:
        value = data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"judge.{name}", "a list")
        return value

    def assertion(self, item: Any, index: int) -> Assertion:
        where = f"judge.assertions[{index}]"
        item = self.fields(item, where, ("path", "op", "value"), "an assertion")
        path = item.get("path")
        if not isinstance(path, list) or not path or not all(isinstance(p, str | int) for p in path):
            self.fail(f"{where}.path", "a non-empty list [collection, key, field, ...]")
        if any(isinstance(p, bool) for p in path):
            self.fail(f"{where}.path", "strings and integer indexes only")
        op = item.get("op")
        if op not in OPS:
            self.fail(f"{where}.op", f"one of {', '.join(OPS)} (got {op!r})")
        if op in ("exists", "absent"):
            if "value" in item:
                self.fail(f"{where}.value", f"op {op!r} takes no value")
        elif "value" not in item:
            self.fail(f"{where}.value", f"op {op!r} needs a value")
        return Assertion(tuple(path), op, item.get("value"))

    def facts(self, data: Mapping[str, Any], name: str) -> tuple[Fact, ...]:
        facts = []
        for index, item in enumerate(self.items(data, name)):
            try:
                facts.append(parse_fact(item))
            except ValueError as exc:
                self.fail(f"judge.{name}[{index}]", str(exc))
        return tuple(facts)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def parse_task(data: Any, *, path: Path | str = "<task>", line: int = 0) -> Task:
    """Build a task from its JSON object; raise `TaskFileError` naming the field at fault."""
    return _Reader(path, line).task(data)


def load_tasks(path: Path | str, *, env: str | None = None, ids: Iterable[str] | None = None) -> list[Task]:
    """Read a tasks JSONL file (or every `*.jsonl` file of a folder); keep `env`'s tasks and the listed `ids`.

    Raises `TaskFileError` (file, line, field) for a line that is not a task,
    an undecodable file, an over-long line or a duplicate id.
    """
    path = Path(path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    wanted = set(ids) if ids is not None else None
    tasks: list[Task] = []
    seen: dict[tuple[str, str], str] = {}
    for file in files:
        for task in _read_file(file):
            key = (task.env, task.id)
            if key in seen:
                raise TaskFileError(file, task.line, "id", f"duplicate task id {task.id!r} (first at {seen[key]})")
            seen[key] = task.where
            if (env is None or task.env == env) and (wanted is None or task.id in wanted):
                tasks.append(task)
    return tasks


def _read_file(path: Path) -> Iterable[Task]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TaskFileError(path, 0, "", f"cannot read: {exc.strerror or exc}") from None
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_TASK_LINE:
            raise TaskFileError(path, number, "", f"line longer than {MAX_TASK_LINE} bytes")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TaskFileError(path, number, "", f"not UTF-8 (byte {exc.start + 1})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskFileError(path, number, "", f"not JSON: {exc.msg} at column {exc.colno}") from None
        except RecursionError:
            raise TaskFileError(path, number, "", "JSON nested too deeply") from None
        except ValueError as exc:  # e.g. an integer with more digits than Python converts
            raise TaskFileError(path, number, "", f"not JSON: {exc}") from None
        yield parse_task(data, path=path, line=number)
