"""Run call sequences on a session and record what each call gave and how the state stood after it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcpfactory.runtime import canonical_json, state_sha256
from mcpfactory.verify._probe import Changes, Outcome, Session
from mcpfactory.verify._strategies import Call, CallSpace

__all__ = [
    "Step",
    "describe_program",
    "diff_changes",
    "first_difference",
    "json_difference",
    "run_program",
    "seed_sha256",
]


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a sequence: the call as drawn, what came back, and the session's changes after it."""

    call: Call
    outcome: Outcome
    changes: Changes
    changes_json: str

    def comparable(self) -> tuple[tuple[str, str | None, str], str]:
        return self.outcome.comparable(), self.changes_json


def empty_changes(collections: Sequence[str]) -> Changes:
    return {name: {} for name in collections}


async def run_program(
    session: Session, space: CallSpace, program: Sequence[Call], start: Changes | None = None
) -> list[Step]:
    """Make the calls in order on `session`, reading its changes after each; stop after a timeout."""
    changes = start if start is not None else empty_changes(list(space.spec.spec.collections))
    steps: list[Step] = []
    for call in program:
        arguments = space.resolve(call.arguments, changes)
        outcome = await session.call(call.tool, arguments)
        changes = await session.changes()
        steps.append(Step(call, outcome, changes, canonical_json(changes)))
        if outcome.kind == "timeout":
            break
    return steps


def first_difference(left: Sequence[Step], right: Sequence[Step]) -> tuple[int, str] | None:
    """Where two runs of one sequence part ways: the call index and what differs, or `None`."""
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a.outcome.comparable() != b.outcome.comparable():
            return index, f"result {a.outcome.describe()} vs {b.outcome.describe()}"
        if a.changes_json != b.changes_json:
            return index, f"state after {a.outcome.call_text()} differs: {diff_changes(a.changes, b.changes)}"
    if len(left) != len(right):
        return min(len(left), len(right)), f"one run made {len(left)} calls, the other {len(right)}"
    return None


def diff_changes(left: Mapping[str, Mapping[str, Any]], right: Mapping[str, Mapping[str, Any]]) -> str:
    """Name the first record that differs between two change sets."""
    for coll in sorted(set(left) | set(right)):
        a, b = left.get(coll, {}), right.get(coll, {})
        for key in sorted(set(a) | set(b)):
            if canonical_json(a.get(key, "(unchanged)")) != canonical_json(b.get(key, "(unchanged)")):
                return f"{coll}[{key!r}]: {_short(a.get(key, '(unchanged)'))} vs {_short(b.get(key, '(unchanged)'))}"
    return "(no record differs)"


def json_difference(actual: Any, expected: Any, path: str = "$") -> str | None:
    """The first place two JSON values differ, as `path: actual vs expected`, or `None` if equal."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        for key in sorted(set(actual) | set(expected), key=str):
            if key not in actual:
                return f"{path}.{key}: missing (expected {_short(expected[key], 60)})"
            if key not in expected:
                return f"{path}.{key}: unexpected {_short(actual[key], 60)}"
            found = json_difference(actual[key], expected[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(actual, list) and isinstance(expected, list):
        for index, (a, b) in enumerate(zip(actual, expected, strict=False)):
            found = json_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        if len(actual) != len(expected):
            return f"{path}: {len(actual)} items, expected {len(expected)}"
        return None
    if canonical_json(actual) != canonical_json(expected):
        return f"{path}: {_short(actual, 60)}, expected {_short(expected, 60)}"
    return None


def _short(value: Any, limit: int = 140) -> str:
    text = value if isinstance(value, str) else canonical_json(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_program(steps: Sequence[Step], upto: int | None = None) -> str:
    shown = steps[: (upto + 1) if upto is not None else None]
    return " ; ".join(step.outcome.call_text() for step in shown)


def seed_sha256(seed: Mapping[str, Mapping[str, Any]]) -> str:
    """The state hash a new session must report: the spec's seed as canonical JSON."""
    return state_sha256(seed)
