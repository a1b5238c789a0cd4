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
    "JudgeKind",
    "Task",
    "UserScenario",
    "load_tasks",
    "parse_task",
]

OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "contains", "exists", "absent")
StateRule = Literal["match", "none"]
MAX_TASK_LINE = 4 * 1024 * 1024  # bytes; a longer line is refused before it is parsed
MAX_LINES_FILE = 256 * 1024 * 1024  # bytes; a longer tasks or replay file is refused before it is read


def read_lines_file(path: Path, limit: int = MAX_LINES_FILE) -> bytes:
    """The bytes of a JSONL file; `ValueError` saying why when it is not a regular file or holds more than `limit`.

    Checked before the file is opened: opening a FIFO waits for a writer, and
    /dev/zero never ends. Raises `OSError` when the file cannot be read.
    """
    if not path.is_file():
        if not path.exists():
            path.stat()  # raises the OSError that says why (no such file, permission)
        raise ValueError("a folder, not a file" if path.is_dir() else "not a regular file")
    with path.open("rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        mib, rest = divmod(limit, 1024 * 1024)
        raise ValueError(f"larger than {mib:,} MiB" if mib and not rest else f"larger than {limit:,} bytes")
    return raw


_TASK_FIELDS = (
    "id",
    "env",
    "instruction",
    "user_scenario",
    "initial_state",
    "solution",
    "tools_from_turn",
    "judge",
    "difficulty",
    "tags",
)
_JUDGE_FIELDS = ("kind", "view", "results", "state", "mask", "any_key", "assertions", "facts", "never", "ignore_args")
_INITIAL_KINDS = ("patch", "state", "scenario")
_INITIAL_CALLER = ("principal", "scopes", "clock")  # who calls and when, beside (or instead of) a start
JudgeKind = Literal["state", "turns"]
_SCENARIO_FIELDS = ("opening", "goal", "known", "unknown", "persona", "confirm", "stop", "turns")
_DIFFICULTIES = ("easy", "medium", "hard")
# Fields of the first task format, and what they are called now.
_RENAMED = {"outputs": "facts", "never_disclose": "never", "mask_fields": "mask"}


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call of a reference solution; `turn` is the user turn it answers (0: the opening)."""

    tool: str
    arguments: Mapping[str, Any]
    turn: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool": self.tool, "arguments": dict(self.arguments)}
        if self.turn:
            out["turn"] = self.turn
        return out


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

    `kind: "turns"` judges a scripted multi-turn task turn by turn instead (the
    way BFCL's multi-turn checker does): after every user turn in which the
    reference makes calls, the agent must have made a call, each environment's
    `view` must equal the reference run's after that turn, and with `results`,
    every result the reference calls got in the turn must be among the results
    the agent's calls got in it or earlier. Turns without reference calls are
    not checked; every turn must be reached.
    """

    kind: JudgeKind = "state"
    view: str | None = None
    results: bool = True
    state: StateRule = "match"
    mask: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    any_key: tuple[str, ...] = ()
    assertions: tuple[Assertion, ...] = ()
    facts: tuple[Fact, ...] = ()
    never: tuple[Fact, ...] = ()
    ignore_args: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        if self.kind == "turns":
            return {"kind": "turns", "view": self.view, "results": self.results}
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
    also: tuple[str, ...] = ()
    tools_from_turn: Mapping[str, int] = field(default_factory=dict)
    difficulty: str | None = None
    tags: tuple[str, ...] = ()
    source: str = field(default="<task>", compare=False)
    line: int = field(default=0, compare=False)

    @property
    def envs(self) -> tuple[str, ...]:
        """Every environment the task uses: its own first, then the others whose tools it also offers."""
        return (self.env, *self.also)

    def initial_for(self, env: str) -> Mapping[str, Any] | None:
        """The initial state of one of the task's environments (`null`: the seed)."""
        if not self.also:
            return self.initial_state if env == self.env else None
        value = (self.initial_state or {}).get(env)
        return value if isinstance(value, Mapping) else None

    @property
    def turns(self) -> int:
        """How many user turns the task has: the opening plus its scripted turns."""
        return 1 + (len(self.user.turns) if self.user is not None else 0)

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
        out: dict[str, Any] = {
            "id": self.id,
            "env": list(self.envs) if self.also else self.env,
            "instruction": self.instruction,
            "user_scenario": self.user.to_json() if self.user is not None else None,
            "initial_state": dict(self.initial_state) if self.initial_state is not None else None,
            "solution": [call.to_json() for call in self.solution],
        }
        if self.tools_from_turn:
            out["tools_from_turn"] = dict(self.tools_from_turn)
        return {**out, "judge": self.judge.to_json(), "difficulty": self.difficulty, "tags": list(self.tags)}


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
        envs = self.envs(data.get("env"))
        initial = data.get("initial_state")
        if initial is not None and len(envs) == 1:
            self.initial(initial, "initial_state")
        elif initial is not None:
            initial = self.fields(initial, "initial_state", envs, "the initial state of a task with several envs")
            for name, value in initial.items():
                if value is not None:
                    self.initial(value, f"initial_state.{name}")
        difficulty = data.get("difficulty")
        if difficulty is not None and difficulty not in _DIFFICULTIES:
            self.fail("difficulty", f"one of {', '.join(_DIFFICULTIES)} (got {difficulty!r})")
        user = self.scenario(data.get("user_scenario"))
        turns = 1 + (len(user.turns) if user is not None else 0)
        solution = self.solution(data.get("solution"))
        for index, call in enumerate(solution):
            if call.turn >= turns:
                self.fail(f"solution[{index}].turn", f"turn {call.turn}, but the task has {turns} user turn(s)")
        judge = self.judge(data["judge"])
        if judge.kind == "turns" and user is None:
            self.fail("judge.kind", "a task judged by turns needs a user_scenario (its opening and turns)")
        return Task(
            id=self.text(data, "id", ""),
            env=envs[0],
            instruction=self.text(data, "instruction", ""),
            solution=solution,
            judge=judge,
            initial_state=initial,
            user=user,
            also=envs[1:],
            tools_from_turn=self.tool_turns(data.get("tools_from_turn"), turns),
            difficulty=difficulty,
            tags=self.strings(data, "tags", ""),
            source=str(self.path),
            line=self.line,
        )

    def envs(self, value: Any) -> tuple[str, ...]:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            self.fail("env", "an environment name, or a non-empty list of them")
        if len(set(names)) != len(names):
            self.fail("env", "an environment is named twice")
        return tuple(names)

    def initial(self, value: Any, where: str) -> None:
        value = self.fields(value, where, (*_INITIAL_KINDS, *_INITIAL_CALLER), where)
        starts = [value[kind] for kind in _INITIAL_KINDS if kind in value]
        if len(starts) > 1 or not all(isinstance(start, dict) for start in starts) or not value:
            self.fail(where, 'null, {"patch": {...}}, {"state": {...}} or {"scenario": {...}}')
        principal = value.get("principal")
        if "principal" in value and principal is not None and not isinstance(principal, dict):
            self.fail(_join(where, "principal"), "an object (who the caller is), or null for an anonymous caller")
        scopes = value.get("scopes")
        if "scopes" in value and not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
            self.fail(_join(where, "scopes"), "a list of scope names")
        if "clock" in value and not isinstance(value["clock"], str):
            self.fail(_join(where, "clock"), "an ISO 8601 datetime, e.g. '2024-05-15T10:00:00'")

    def tool_turns(self, value: Any, turns: int) -> dict[str, int]:
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in value.items()
        ):
            self.fail("tools_from_turn", "an object {tool: the first user turn it is offered at}")
        for tool, turn in value.items():
            if not 0 <= turn < turns:
                self.fail(f"tools_from_turn.{tool}", f"turn {turn}, but the task has {turns} user turn(s)")
        return dict(value)

    def solution(self, data: Any) -> tuple[Call, ...]:
        if data is None:
            self.fail("solution", "missing (a list of calls; [] when the right outcome needs none)")
        if not isinstance(data, list):
            self.fail("solution", "a list of calls")
        calls: list[Call] = []
        for index, item in enumerate(data):
            where = f"solution[{index}]"
            item = self.fields(item, where, ("tool", "arguments", "turn"), "a call")
            tool = self.text(item, "tool", where)
            arguments = item.get("arguments", {})
            if not isinstance(arguments, dict):
                self.fail(f"{where}.arguments", "an object")
            turn = item.get("turn", 0)
            if not isinstance(turn, int) or isinstance(turn, bool) or turn < 0:
                self.fail(f"{where}.turn", "the user turn the call answers: 0, 1, ...")
            if calls and turn < calls[-1].turn:
                self.fail(f"{where}.turn", "calls are listed in turn order")
            calls.append(Call(tool, arguments, turn))
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
        kind = data.get("kind", "state")
        if kind not in ("state", "turns"):
            self.fail("judge.kind", f"'state' or 'turns' (got {kind!r})")
        if kind == "turns":
            extra = sorted(set(data) - {"kind", "view", "results"})
            if extra:
                self.fail(f"judge.{extra[0]}", "not used by a judge of kind 'turns' (kind, view, results)")
            view = data.get("view")
            if not isinstance(view, str) or not view:
                self.fail("judge.view", "the name of the view compared after every turn")
            results = data.get("results", True)
            if not isinstance(results, bool):
                self.fail("judge.results", "true or false")
            return Judge(kind="turns", view=view, results=results)
        if "view" in data or "results" in data:
            self.fail("judge.view" if "view" in data else "judge.results", "only for a judge of kind 'turns'")
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
        raw = read_lines_file(path)
    except OSError as exc:
        raise TaskFileError(path, 0, "", f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise TaskFileError(path, 0, "", f"cannot read: {exc}") from None
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
