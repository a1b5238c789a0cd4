"""Judge a run the way docs/tasks.md says a task is judged, to check the tasks synthesis writes.

The rules mirror the harness's reward (`touched` state comparison, the
assertion operators, case-insensitive outputs); synthesis keeps a task only
when this judge passes its reference solution and fails the runs that should
fail.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["assertions_for", "check_assertion", "judge_run", "lookup", "real_changes"]

State = Mapping[str, Mapping[str, Any]]
_MISSING: Any = object()
_MAX_ASSERTIONS = 10


def lookup(path: Sequence[Any], changes: State, seed: State) -> Any:
    """The value at `path` in the seed overlaid with `changes`, or the missing marker."""
    collection, key = str(path[0]), str(path[1]) if len(path) > 1 else None
    if key is None:
        merged = {**(seed.get(collection) or {}), **(changes.get(collection) or {})}
        return {k: v for k, v in merged.items() if v is not None}
    layer = changes.get(collection) or {}
    value: Any = layer[key] if key in layer else (seed.get(collection) or {}).get(key)
    if value is None:
        return _MISSING
    for part in path[2:]:
        if isinstance(value, Mapping) and str(part) in value:
            value = value[str(part)]
        elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
            value = value[part]
        else:
            return _MISSING
    return value


def check_assertion(assertion: Mapping[str, Any], changes: State, seed: State) -> bool:
    """Evaluate one `{path, op, value}` assertion."""
    value = lookup(assertion["path"], changes, seed)
    op = assertion["op"]
    expected: Any = assertion.get("value")
    if op == "exists":
        return value is not _MISSING
    if op == "absent":
        return value is _MISSING
    if value is _MISSING:
        return False
    try:
        if op == "==":
            return bool(value == expected)
        if op == "!=":
            return bool(value != expected)
        if op == "<":
            return bool(value < expected)
        if op == "<=":
            return bool(value <= expected)
        if op == ">":
            return bool(value > expected)
        if op == ">=":
            return bool(value >= expected)
        if op == "in":
            return bool(value in expected)
        if op == "contains":
            return bool(expected in value)
    except TypeError:
        return False
    raise ValueError(f"unknown assertion op {op!r}")


def _touched_match(changes: State, reference: State, seed: State) -> bool:
    keys = {(c, k) for c, records in changes.items() for k in records}
    keys |= {(c, k) for c, records in reference.items() for k in records}
    for collection, key in keys:
        base = (seed.get(collection) or {}).get(key)
        mine = (changes.get(collection) or {}).get(key, base)
        theirs = (reference.get(collection) or {}).get(key, base)
        if _canonical(mine) != _canonical(theirs):
            return False
    return True


def judge_run(judge: Mapping[str, Any], *, changes: State, reference: State, seed: State, answer: str) -> bool:
    """Whether a run (its final changes and its answer) passes the task's judge."""
    rule = judge.get("state", "touched")
    if rule == "touched" and not _touched_match(changes, reference, seed):
        return False
    if rule == "full" and _canonical(_nonempty(changes)) != _canonical(_nonempty(reference)):
        return False
    if not all(check_assertion(a, changes, seed) for a in judge.get("assertions") or ()):
        return False
    lowered = answer.lower()
    return all(text.lower() in lowered for text in judge.get("outputs") or ())


def assertions_for(changes: State, seed: State, prefer: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Assertions that pin what a run changed: deletions, creations and the fields that moved.

    Fields whose new value came from the call arguments (`prefer`) come first;
    at most ten assertions are kept (the `touched` state rule checks the rest).
    """
    out: list[tuple[int, dict[str, Any]]] = []
    preferred = {_canonical(v) for v in prefer}
    for collection in sorted(changes):
        for key in sorted(changes[collection]):
            record = changes[collection][key]
            before = (seed.get(collection) or {}).get(key)
            if record is None:
                out.append((0, {"path": [collection, key], "op": "absent"}))
                continue
            if before is None:
                out.append((0, {"path": [collection, key], "op": "exists"}))
            for name in sorted(record) if isinstance(record, Mapping) else ():
                old = before.get(name, _MISSING) if isinstance(before, Mapping) else _MISSING
                new = record[name]
                if old is not _MISSING and _canonical(old) == _canonical(new):
                    continue
                rank = 1 if _canonical(new) in preferred else 2
                out.append((rank, {"path": [collection, key, name], "op": "==", "value": new}))
    out.sort(key=lambda item: item[0])
    return [assertion for _, assertion in out[:_MAX_ASSERTIONS]]


def _nonempty(state: State) -> dict[str, Any]:
    return {c: dict(r) for c, r in state.items() if r}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def real_changes(changes: State, seed: State) -> dict[str, dict[str, Any]]:
    """The records of `changes` that differ from the seed (a record rewritten as it was is no change)."""
    out: dict[str, dict[str, Any]] = {}
    for collection, records in changes.items():
        base = seed.get(collection) or {}
        moved = {k: v for k, v in records.items() if _canonical(v) != _canonical(base.get(k))}
        if moved:
            out[collection] = moved
    return out
