"""Judge a run with the one judge (`mcpfactory.runtime.judge`), to check the tasks synthesis writes.

A task synthesis keeps is judged exactly as the verifier and the harness will
judge it; this module adds what synthesis needs to write judges: lookups in a
state and assertions from a diff.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mcpfactory.runtime import Run, StateView, judge, parse_task

__all__ = ["assertions_for", "judge_run", "lookup", "real_changes"]

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


def judge_run(judge_data: Mapping[str, Any], *, changes: State, reference: State, seed: State, answer: str) -> bool:
    """Whether a run (its final changes and its answer) passes the task's judge: the one judge, exactly."""
    task = parse_task({"id": "draft", "env": "draft", "instruction": "-", "solution": [], "judge": dict(judge_data)})
    run = Run(StateView(seed, changes), [answer] if answer else [])
    verdict = judge(task, run, initial=StateView(seed, {}), reference=StateView(seed, reference))
    return verdict.passed


def assertions_for(changes: State, seed: State, prefer: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Assertions that pin what a run changed: deletions, creations and the fields that moved.

    Fields whose new value came from the call arguments (`prefer`) come first;
    at most ten assertions are kept (the `match` state rule checks the rest).
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
