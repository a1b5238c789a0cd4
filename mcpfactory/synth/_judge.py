"""Judge a run with the one judge (`mcpfactory.runtime.judge`), to check the tasks synthesis writes.

A task synthesis keeps is judged exactly as the verifier and the harness will
judge it; this module adds what synthesis needs to write judges: lookups in a
state and assertions from a diff.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mcpfactory.runtime import Run, StateView, judge, parse_task
from mcpfactory.synth._values import leaves

__all__ = ["answer_of", "assertions_for", "judge_run", "lookup", "oracle_answer", "real_changes"]

_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d)")

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


def answer_of(values: Sequence[Any]) -> str:
    """An answer that states everything some results hold: each value on its own line.

    An ISO date-time is written with a space (`2024-06-13 15:00:00`), so its date reads as a date.
    """
    lines = [str(leaf) for value in values for leaf in leaves(value) if leaf is not None and not isinstance(leaf, bool)]
    return _DATETIME.sub(r"\1 \2", "\n".join(lines))


def oracle_answer(judge_data: Mapping[str, Any]) -> str:
    """What the verifier's oracle says: a plain statement of every required fact ("Done." without facts)."""
    task = parse_task({"id": "draft", "env": "draft", "instruction": "-", "solution": [], "judge": dict(judge_data)})
    facts = [fact.say() for fact in task.judge.facts]
    return "\n".join(facts) if facts else "Done."


def judge_run(
    judge_data: Mapping[str, Any], *, changes: State, reference: State, seed: State, answer: str | Sequence[str]
) -> bool:
    """Whether a run (its final changes and what it said) passes the task's judge: the one judge, exactly."""
    task = parse_task({"id": "draft", "env": "draft", "instruction": "-", "solution": [], "judge": dict(judge_data)})
    messages = [answer] if isinstance(answer, str) else list(answer)
    run = Run(StateView(seed, changes), [m for m in messages if m])
    verdict = judge(task, run, initial=StateView(seed, {}), reference=StateView(seed, reference))
    return verdict.passed


def assertions_for(
    changes: State, seed: State, prefer: Sequence[Any] = (), mask: Mapping[str, Sequence[str]] | None = None
) -> list[dict[str, Any]]:
    """Assertions that pin what a run changed: deletions, creations and the fields that moved.

    Fields whose new value came from the call arguments (`prefer`) come first;
    masked fields are never asserted; at most ten assertions are kept (the
    `match` state rule checks the rest).
    """
    mask = mask or {}
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
                if name in mask.get(collection, ()):
                    continue
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
