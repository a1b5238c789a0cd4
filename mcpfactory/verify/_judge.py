"""Decide whether a run solved a task, as docs/tasks.md defines it: state, assertions, outputs.

States are views of the seed plus a session's changes (`_control_snapshot`
with scope `changes`), so judging costs what the run wrote, not the seed's size.
The harness judges agents the same way; this is the verifier's own copy, since
the two packages do not import each other.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mcpfactory.runtime import canonical_json
from mcpfactory.verify._tasks import Assertion, Judge

__all__ = ["MISSING", "StateView", "Verdict", "judge"]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class StateView:
    """A full state, seen as the seed plus the records a session changed (`None` marks a deletion)."""

    seed: Mapping[str, Mapping[str, Any]]
    changes: Mapping[str, Mapping[str, Any]]

    def record(self, collection: str, key: str) -> Any:
        changed = self.changes.get(collection, {})
        if key in changed:
            value = changed[key]
            return MISSING if value is None else value
        return self.seed.get(collection, {}).get(key, MISSING)

    def changed_keys(self) -> set[Key]:
        return {(coll, key) for coll, records in self.changes.items() for key in records}

    def at(self, path: Iterable[str | int]) -> Any:
        """The value at `[collection, key, field, ...]`, or `MISSING`."""
        parts = list(path)
        if not parts:
            return MISSING
        if len(parts) == 1:
            coll = str(parts[0])
            if coll not in self.seed and coll not in self.changes:
                return MISSING
            keys = set(self.seed.get(coll, {})) | set(self.changes.get(coll, {}))
            return {k: r for k in sorted(keys) if (r := self.record(coll, k)) is not MISSING}
        value = self.record(str(parts[0]), str(parts[1]))
        for part in parts[2:]:
            if not _has(value, part):
                return MISSING
            value = value[part]
        return value


def _has(value: Any, part: str | int) -> bool:
    if isinstance(value, Mapping):
        return isinstance(part, str) and part in value
    return isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value)


def same_record(a: StateView, b: StateView, key: Key) -> bool:
    left, right = a.record(*key), b.record(*key)
    if left is MISSING or right is MISSING:
        return left is right
    return canonical_json(left) == canonical_json(right)


def differing_records(a: StateView, b: StateView, keys: Iterable[Key]) -> list[Key]:
    return sorted(key for key in set(keys) if not same_record(a, b, key))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's decision on one run, with every reason it failed."""

    passed: bool
    failures: tuple[str, ...] = ()


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def check_assertion(state: StateView, assertion: Assertion) -> str | None:
    """Return why `assertion` fails on `state`, or `None` if it holds."""
    value = state.at(assertion.path)
    where = "/".join(str(p) for p in assertion.path)
    op, expected = assertion.op, assertion.value
    if op == "exists":
        return None if value is not MISSING else f"{where} does not exist"
    if op == "absent":
        return None if value is MISSING else f"{where} exists"
    if value is MISSING:
        return f"{where} does not exist (expected {op} {canonical_json(expected)})"
    try:
        if op == "==":
            holds = canonical_json(value) == canonical_json(expected)
        elif op == "!=":
            holds = canonical_json(value) != canonical_json(expected)
        elif op == "in":
            holds = value in expected
        elif op == "contains":
            holds = expected in value
        else:
            holds = _ORDER[op](value, expected)
    except TypeError:
        holds = False
    return None if holds else f"{where} is {canonical_json(value)[:80]}, expected {op} {canonical_json(expected)[:80]}"


def outputs_found(outputs: Iterable[str], answer: str) -> frozenset[str]:
    folded = answer.casefold()
    return frozenset(text for text in outputs if text.casefold() in folded)


def judge(rule: Judge, *, initial: StateView, final: StateView, reference: StateView, answer: str) -> Verdict:
    """Judge a run that ended in `final` with `answer`, against the reference solution's `reference` state."""
    failures: list[str] = []
    if rule.state == "touched":
        touched = {
            key
            for key in final.changed_keys() | reference.changed_keys() | initial.changed_keys()
            if not same_record(final, initial, key) or not same_record(reference, initial, key)
        }
        failures += [
            f"{c}[{k!r}] differs from the reference run" for c, k in differing_records(final, reference, touched)
        ]
    elif rule.state == "full":
        keys = final.changed_keys() | reference.changed_keys()
        failures += [f"{c}[{k!r}] differs from the reference run" for c, k in differing_records(final, reference, keys)]
    for assertion in rule.assertions:
        problem = check_assertion(final, assertion)
        if problem is not None:
            failures.append(problem)
    found = outputs_found(rule.outputs, answer)
    failures += [f"the answer does not mention {text!r}" for text in rule.outputs if text not in found]
    return Verdict(not failures, tuple(failures))
