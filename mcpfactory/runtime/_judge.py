"""The one judge: did a run do its task? Deterministic, component by component (docs/tasks.md).

The verifier, synthesis and the harness all call `judge`; none keeps a copy.
A run is what an agent (or a replayed solution) left behind: the final state,
the text of every assistant message, and the calls it made. Components:

- `state`: the final state against the reference solution's, record by
  record, masked fields aside (`judge.state: match`);
- `assertions`: the task's checks on the final state;
- `facts`: what the conversation had to state, and `never`: what it must not
  have stated, over every assistant message (`mcpfactory.runtime._facts`);
- `calls`: the reference calls the agent made, order-free, with ignored
  arguments masked and schema defaults filled in (reported, never required
  for `passed`: a different path to the same outcome is a success).

A verdict passes when every outcome component passes. States are views of
the seed plus a session's changes (`_control_snapshot {"scope": "changes"}`),
so judging costs what the runs wrote, not the seed's size. Every comparison of
values is `same_value` (canonical JSON), as the state hash compares them, except
in a judge by turns, which compares views as BFCL's checker compares the
objects behind them (Python's `==`: `1` equals `1.0`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._facts import Statements
from ._tasks import Assertion, Call, Judge, Task
from ._values import canonical_json, same_value

__all__ = [
    "MISSING",
    "TRIVIAL_ANSWERS",
    "Run",
    "RunCall",
    "StateView",
    "TurnOutcome",
    "Verdict",
    "check_assertion",
    "judge",
    "with_defaults",
]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
Key = tuple[str, str]
State = Mapping[str, Mapping[str, Any]]

TRIVIAL_ANSWERS: Mapping[str, str | None] = {
    "silent": None,
    "refusal": "I'm sorry, I can't help with that under our policy.",
    "bare-done": "Done, all taken care of.",
}
"""What the answer-only trivial agents say (None: nothing at all). No task may reward them: the
verifier plays them (with tool spam and random calls) against every task, and the harness can
run them as policies (`harness.policies.TrivialPolicy`)."""


@dataclass(frozen=True, slots=True)
class StateView:
    """A full state, seen as the seed plus the records a session changed (`None` marks a deletion)."""

    seed: State
    changes: State = field(default_factory=dict)

    def record(self, collection: str, key: str) -> Any:
        changed = self.changes.get(collection, {})
        if key in changed:
            value = changed[key]
            return MISSING if value is None else value
        return self.seed.get(collection, {}).get(key, MISSING)

    def changed_keys(self) -> set[Key]:
        return {(coll, key) for coll, records in self.changes.items() for key in records}

    def keys(self, collection: str) -> set[str]:
        """The keys of `collection` that hold a record."""
        keys = set(self.seed.get(collection, {})) | set(self.changes.get(collection, {}))
        return {key for key in keys if self.record(collection, key) is not MISSING}

    def at(self, path: Sequence[str | int]) -> Any:
        """The value at `[collection, key, field, ...]`, or `MISSING`."""
        if not path:
            return MISSING
        collection = str(path[0])
        if len(path) == 1:
            if collection not in self.seed and collection not in self.changes:
                return MISSING
            return {key: self.record(collection, key) for key in sorted(self.keys(collection))}
        value = self.record(collection, str(path[1]))
        for part in path[2:]:
            in_object = isinstance(value, Mapping) and isinstance(part, str) and part in value
            in_array = isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value)
            if not (in_object or in_array):
                return MISSING
            value = value[part]
        return value


@dataclass(frozen=True, slots=True)
class RunCall:
    """One call of a run, as the judge needs it; `malformed` calls never reached the server."""

    tool: str
    arguments: Mapping[str, Any] | None
    malformed: bool = False


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """Where one user turn of a multi-turn run ended: each environment's view, and its calls' result texts."""

    views: Mapping[str, Any]
    results: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Run:
    """What a run left behind: its final state, every assistant message's text and its calls.

    A run judged by turns (`judge.kind: turns`) also has one `TurnOutcome` per
    user turn it reached.
    """

    final: StateView
    messages: Sequence[str] = ()
    calls: Sequence[RunCall] = ()
    turns: Sequence[TurnOutcome] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's decision: whether the run did the task, each component, and every reason it failed."""

    passed: bool
    components: Mapping[str, Any]
    failures: tuple[str, ...] = ()


def with_defaults(arguments: Mapping[str, Any], input_schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the arguments with the schema's top-level defaults filled in (so `{}` equals `{"x": default}`)."""
    filled = dict(arguments)
    for name, prop in ((input_schema or {}).get("properties") or {}).items():
        if name not in filled and isinstance(prop, Mapping) and "default" in prop:
            filled[name] = prop["default"]
    return filled


def judge(
    task: Task,
    run: Run,
    *,
    initial: StateView,
    reference: StateView,
    schemas: Mapping[str, Mapping[str, Any]] | None = None,
    reference_turns: Sequence[TurnOutcome] = (),
) -> Verdict:
    """Judge `run` on `task`, against the reference solution's final state `reference`.

    `initial` is the state both runs started from; `schemas` maps tool names
    to input schemas (for filling defaults when calls are compared);
    `reference_turns` are the reference run's turns, for a task judged by turns.
    """
    if task.judge.kind == "turns":
        return _judge_turns(task, run, reference_turns, schemas or {})
    rule = task.judge
    failures: list[str] = []
    components: dict[str, Any] = {}

    components["state"] = _state(rule, initial, run.final, reference)
    failures += [f"{item} differs from the reference run" for item in components["state"].get("mismatched", [])]

    problems = [check_assertion(run.final, assertion) for assertion in rule.assertions]
    failed = [index for index, problem in enumerate(problems) if problem is not None]
    failures += [problem for problem in problems if problem is not None]
    components["assertions"] = (
        {"passed": len(rule.assertions) - len(failed), "total": len(rule.assertions), "failed": failed}
        if rule.assertions
        else None
    )

    statements = Statements(run.messages)
    missing = [fact.describe() for fact in rule.facts if not statements.states(fact)]
    failures += [f"the conversation never states {item}" for item in missing]
    components["facts"] = (
        {"found": len(rule.facts) - len(missing), "total": len(rule.facts), "missing": missing} if rule.facts else None
    )
    disclosed = [fact.describe() for fact in rule.never if statements.states(fact)]
    failures += [f"the conversation discloses {item}" for item in disclosed]
    components["never"] = {"disclosed": disclosed, "total": len(rule.never)} if rule.never else None

    components["calls"] = _calls(task, run.calls, schemas or {})
    return Verdict(not failures, components, tuple(failures))


def _judge_turns(
    task: Task, run: Run, reference: Sequence[TurnOutcome], schemas: Mapping[str, Mapping[str, Any]]
) -> Verdict:
    """Turn by turn, as BFCL's multi-turn checker judges a run (bfcl_eval `multi_turn_checker`).

    Every user turn must be reached. A turn whose reference calls are none is
    not checked (BFCL skips it; what the agent did there shows in later turns'
    states). Any other turn passes when the agent made a call in it that
    reached an environment, each environment's `view` equals the reference
    run's after the turn (compared as Python's `==` compares the objects the
    view shows, so `1` equals `1.0`), and, with `results`, every result text
    the reference calls got in the turn is among the texts the agent's calls
    got in this turn or an earlier one (as many times as the reference got it).
    """
    failures: list[str] = []
    failed_turns: list[int] = []
    checked = {call.turn for call in task.solution}
    states_ok = results_ok = 0
    so_far: Counter[str] = Counter()
    for index in range(task.turns):
        if index >= len(run.turns):
            failures.append(f"turn {index}: never reached")
            failed_turns.append(index)
            continue
        actual = run.turns[index]
        so_far.update(actual.results)
        if index not in checked:
            continue
        expected = reference[index] if index < len(reference) else TurnOutcome({})
        idle = not actual.results
        wrong = sorted(env for env in expected.views if not _python_equal(actual.views.get(env), expected.views[env]))
        missing = Counter(expected.results) - so_far if task.judge.results else Counter()
        if idle:
            failures.append(f"turn {index}: the agent made no call, the reference made {len(expected.results)}")
        failures += [f"turn {index}: {env}'s {task.judge.view} view differs from the reference run" for env in wrong]
        failures += [f"turn {index}: no call got the result {text[:80]!r}" for text in missing]
        states_ok += not wrong
        results_ok += not missing
        if idle or wrong or missing:
            failed_turns.append(index)
    total = task.turns
    compared = len(checked) or 1
    components: dict[str, Any] = {
        "turns": {"passed": total - len(failed_turns), "total": total, "failed": failed_turns},
        "state": {"rule": "turns", "match": states_ok == len(checked), "fraction": states_ok / compared},
        "results": {"passed": results_ok, "total": len(checked)} if task.judge.results and checked else None,
        "assertions": None,
        "facts": None,
        "never": None,
        "calls": _calls(task, run.calls, schemas),
    }
    return Verdict(not failures, components, tuple(failures))


def _python_equal(left: Any, right: Any) -> bool:
    """Python's `==` over JSON values: numbers by value (`1 == 1.0 == True`), containers item by item."""
    numbers = (bool, int, float)
    if isinstance(left, numbers) and isinstance(right, numbers):
        return left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_python_equal(value, right[key]) for key, value in left.items())
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_python_equal(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and bool(left == right)


def _masked(record: Any, fields: Iterable[str]) -> Any:
    if not isinstance(record, Mapping):
        return record
    hidden = set(fields)
    return {name: value for name, value in record.items() if name not in hidden}


def _content(key: str, record: Any, fields: Iterable[str]) -> str:
    """A record's canonical JSON without its masked fields and without the fields that hold its key."""
    masked = _masked(record, fields)
    if isinstance(masked, Mapping):
        masked = {name: value for name, value in masked.items() if value != key}
    return canonical_json(masked)


def _state(rule: Judge, initial: StateView, final: StateView, reference: StateView) -> dict[str, Any]:
    if rule.state == "none":
        return {"rule": "none", "match": None, "fraction": None}
    keys = final.changed_keys() | reference.changed_keys() | initial.changed_keys()
    any_key = set(rule.any_key)
    mismatched: list[str] = []
    compared = 0
    for collection in sorted(any_key):
        fields = rule.mask.get(collection, ())
        mine = Counter(
            _content(k, final.record(collection, k), fields) for k in final.keys(collection) - initial.keys(collection)
        )
        theirs = Counter(
            _content(k, reference.record(collection, k), fields)
            for k in reference.keys(collection) - initial.keys(collection)
        )
        created = (final.keys(collection) | reference.keys(collection)) - initial.keys(collection)
        keys -= {(collection, k) for k in created}
        compared += max(sum(mine.values()), sum(theirs.values()))
        unmatched = max(sum((mine - theirs).values()), sum((theirs - mine).values()))
        mismatched += [f"{collection}: a new record"] * unmatched
    for collection, key in sorted(keys):
        compared += 1
        left, right = final.record(collection, key), reference.record(collection, key)
        if left is MISSING or right is MISSING:
            same = left is right
        else:
            fields = rule.mask.get(collection, ())
            same = same_value(_masked(left, fields), _masked(right, fields))
        if not same:
            mismatched.append(f"{collection}[{key!r}]")
    fraction = 1.0 - len(mismatched) / compared if compared else 1.0
    return {"rule": "match", "match": not mismatched, "fraction": fraction, "mismatched": mismatched[:20]}


def _order(value: Any, expected: Any, op: str) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (value, expected))
    strings = isinstance(value, str) and isinstance(expected, str)
    if not (numbers or strings):
        return False
    if op == "<":
        return bool(value < expected)
    if op == "<=":
        return bool(value <= expected)
    if op == ">":
        return bool(value > expected)
    return bool(value >= expected)


def check_assertion(state: StateView, assertion: Assertion) -> str | None:
    """Return why `assertion` fails on `state`, or None if it holds."""
    value = state.at(assertion.path)
    where = "/".join(str(p) for p in assertion.path)
    op, expected = assertion.op, assertion.value
    if op == "exists":
        return None if value is not MISSING else f"{where} does not exist"
    if op == "absent":
        return None if value is MISSING else f"{where} exists"
    if value is MISSING:
        return f"{where} does not exist (expected {op} {canonical_json(expected)[:80]})"
    if op == "==":
        holds = same_value(value, expected)
    elif op == "!=":
        holds = not same_value(value, expected)
    elif op == "in":
        holds = isinstance(expected, list) and any(same_value(value, item) for item in expected)
    elif op == "contains":
        if isinstance(value, str):
            holds = isinstance(expected, str) and expected in value
        elif isinstance(value, list):
            holds = any(same_value(item, expected) for item in value)
        elif isinstance(value, Mapping):
            holds = isinstance(expected, str) and expected in value
        else:
            holds = False
    else:
        holds = _order(value, expected, op)
    return None if holds else f"{where} is {canonical_json(value)[:80]}, expected {op} {canonical_json(expected)[:80]}"


def _call_key(call: Call | RunCall, task: Task, schemas: Mapping[str, Mapping[str, Any]]) -> str:
    filled = with_defaults(call.arguments or {}, schemas.get(call.tool))
    for name in task.judge.ignore_args.get(call.tool, ()):
        filled.pop(name, None)
    return f"{call.tool}:{canonical_json(filled)}"


def _calls(task: Task, calls: Sequence[RunCall], schemas: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    made = [call for call in calls if not call.malformed and call.arguments is not None]
    expected = Counter(_call_key(call, task, schemas) for call in task.solution)
    actual = Counter(_call_key(call, task, schemas) for call in made)
    matched = sum((expected & actual).values())
    return {
        "matched": matched,
        "expected": sum(expected.values()),
        "extra": len(made) - matched,
        "malformed": sum(1 for call in calls if call.malformed),
    }
