"""Deterministic rewards: components judged from the final state, the answer and the calls, then blended.

Components (each kept in the record, None where the task does not use it):

- `state`: the final state against the replayed reference solution's, on the
  records either run changed (`judge.state: touched`), or whole (`full`: by
  canonical hash when hashes were asked for, `EpisodeConfig.state_hash=
  "always"`; else record by record, which is the same test, since both runs
  start from the same state); `hash_match` is recorded when hashes were asked for;
- `assertions`: the task's declarative checks on the final state;
- `outputs`: the strings the final answer must contain (case-insensitive);
- `calls`: the reference calls the agent made, order-free, with the task's
  `ignore_args` masked and schema defaults filled in; plus the counts of extra
  and malformed calls that the penalties use.

Blend rules (`RewardConfig.rule`):

- `all_or_nothing` (tau-bench): 1.0 when the state matches and every
  assertion and output passes, else 0.0; penalties do not apply;
- `blend` (EnvFactory's trace/state blend): `state_weight * outcome +
  trace_weight * calls`, minus the penalties, clipped to [0, 1], where
  `outcome` is the mean of the state, assertion and output scores;
- `partial`: the mean of every applicable component, minus the penalties, clipped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from harness.connection import Connection, ToolSpec
from harness.policies.oracle import oracle_answer
from harness.schema import with_defaults
from harness.tasks import Assertion, Task

__all__ = [
    "CallOutcome",
    "Reference",
    "ReferenceCache",
    "Reward",
    "RewardConfig",
    "check_assertion",
    "score",
]

Rule = Literal["all_or_nothing", "blend", "partial"]
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class RewardConfig:
    """How components become one number, and what success means for reports."""

    rule: Rule = "all_or_nothing"
    state_weight: float = 0.5
    trace_weight: float = 0.5
    extra_call_penalty: float = 0.0
    malformed_call_penalty: float = 0.0
    success_threshold: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "state_weight": self.state_weight,
            "trace_weight": self.trace_weight,
            "extra_call_penalty": self.extra_call_penalty,
            "malformed_call_penalty": self.malformed_call_penalty,
            "success_threshold": self.success_threshold,
        }


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What scoring needs of one of the agent's calls."""

    tool: str
    arguments: Mapping[str, Any] | None
    malformed: bool = False
    injected: bool = False


@dataclass(frozen=True, slots=True)
class Reference:
    """The reference solution replayed from the task's initial state (cached per task)."""

    changes: Mapping[str, Mapping[str, Any]]
    state_sha256: str | None
    answer: str
    fault: str | None = None


@dataclass(frozen=True, slots=True)
class Reward:
    """The total and every component it came from."""

    total: float
    components: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, **self.components}


class ReferenceCache:
    """Replay each task's reference solution once per process, on the episode's own session."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str, str, bool], Reference] = {}
        self._locks: dict[tuple[str, str, str, bool], anyio.Lock] = {}

    async def get(
        self, task: Task, connection: Connection, *, with_hash: bool = False, timeout: float | None = None
    ) -> Reference:
        """Return the task's reference, replaying it on `connection` the first time (the caller resets after).

        `with_hash` also records the canonical state hash (the server computes
        it over the whole state, so it is asked for only when a judge needs it).
        """
        key = (task.env, connection.endpoint.spec_sha256 or "", task.id, with_hash)
        if key in self._done:
            return self._done[key]
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            if key not in self._done:
                self._done[key] = await _replay(task, connection, with_hash, timeout)
        return self._done[key]


async def _replay(task: Task, connection: Connection, with_hash: bool, timeout: float | None) -> Reference:
    await connection.reset(task.initial_state, timeout=timeout)
    fault = None
    for call in task.solution:
        result = await connection.call_tool(call.tool, call.arguments, timeout=timeout)
        if result.fault is not None:
            fault = f"reference call {call.tool} hit an environment fault: {result.text}"
            break
    changes = await connection.snapshot("changes", timeout=timeout)
    digest = await connection.state_hash(timeout=timeout) if with_hash else None
    return Reference(changes=changes, state_sha256=digest, answer=oracle_answer(task.judge.outputs), fault=fault)


def _lookup(path: Sequence[Any], changes: Mapping[str, Any], seed: Mapping[str, Any]) -> Any:
    if len(path) == 1:
        name = str(path[0])
        if name not in seed and name not in changes:
            return _MISSING
        merged = {**(seed.get(name) or {}), **(changes.get(name) or {})}
        return {key: record for key, record in merged.items() if record is not None}
    collection, key = str(path[0]), str(path[1])
    layer = changes.get(collection) or {}
    record = layer[key] if key in layer else (seed.get(collection) or {}).get(key)
    value: Any = _MISSING if record is None else record
    for part in path[2:]:
        if isinstance(value, Mapping) and str(part) in value:
            value = value[str(part)]
        elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
            value = value[part]
        else:
            return _MISSING
    return value


def check_assertion(assertion: Assertion, changes: Mapping[str, Any], seed: Mapping[str, Any]) -> bool:
    """Evaluate one assertion on the state `seed` overlaid with `changes` (deletions as null)."""
    value = _lookup(assertion.path, changes, seed)
    op, expected = assertion.op, assertion.value
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
    return False


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _call_key(tool: str, arguments: Mapping[str, Any], task: Task, schemas: Mapping[str, ToolSpec]) -> str:
    spec = schemas.get(tool)
    filled = with_defaults(arguments, spec.input_schema) if spec else dict(arguments)
    for name in task.judge.ignore_args.get(tool, ()):
        filled.pop(name, None)
    return f"{tool}:{_canonical(filled)}"


async def _state_component(
    task: Task,
    changes: Mapping[str, Any],
    final_hash: str | None,
    reference: Reference,
    seed: Callable[[], Awaitable[Mapping[str, Any]]],
) -> dict[str, Any]:
    rule = task.judge.state
    if rule == "none":
        return {"rule": rule, "match": None, "fraction": None}
    if rule == "full" and final_hash is not None and reference.state_sha256 is not None:
        match = final_hash == reference.state_sha256
        return {"rule": rule, "match": match, "fraction": 1.0 if match else 0.0}
    # Without hashes, `full` is the comparison below: both runs start from the same state, so the
    # states are equal exactly when they agree on every record either run changed.
    keys = sorted(
        {(c, k) for c, records in changes.items() for k in records}
        | {(c, k) for c, records in reference.changes.items() for k in records}
    )
    if not keys:
        return {"rule": rule, "match": True, "fraction": 1.0, "mismatched": []}
    mismatched = []
    seed_state: Mapping[str, Any] | None = None
    for collection, key in keys:
        mine = changes.get(collection) or {}
        theirs = reference.changes.get(collection) or {}
        if key in mine and key in theirs:
            same = mine[key] == theirs[key]
        else:
            # One side left the record as the seed has it: compare with the seed's record.
            seed_state = seed_state if seed_state is not None else await seed()
            base = (seed_state.get(collection) or {}).get(key)
            same = mine.get(key, base) == theirs.get(key, base)
        if not same:
            mismatched.append(f"{collection}/{key}")
    fraction = 1.0 - len(mismatched) / len(keys)
    return {"rule": rule, "match": not mismatched, "fraction": fraction, "mismatched": mismatched[:20]}


async def score(
    task: Task,
    *,
    answer: str,
    calls: Sequence[CallOutcome],
    changes: Mapping[str, Any],
    final_hash: str | None,
    reference: Reference,
    seed: Callable[[], Awaitable[Mapping[str, Any]]],
    tools: Sequence[ToolSpec],
    config: RewardConfig,
) -> Reward:
    """Judge an episode's outcome; `seed` fetches the seed state when assertions or the state rule need it."""
    judge = task.judge
    hashed = final_hash is not None and reference.state_sha256 is not None
    components: dict[str, Any] = {"hash_match": final_hash == reference.state_sha256 if hashed else None}
    components["state"] = await _state_component(task, changes, final_hash, reference, seed)

    if judge.assertions:
        seed_state = await seed()
        results = [check_assertion(a, changes, seed_state) for a in judge.assertions]
        components["assertions"] = {
            "passed": sum(results),
            "total": len(results),
            "failed": [i for i, ok in enumerate(results) if not ok],
        }
    else:
        components["assertions"] = None

    if judge.outputs:
        lowered = answer.lower()
        missing = [text for text in judge.outputs if text.lower() not in lowered]
        components["outputs"] = {
            "found": len(judge.outputs) - len(missing),
            "total": len(judge.outputs),
            "missing": missing,
        }
    else:
        components["outputs"] = None

    schemas = {tool.name: tool for tool in tools}
    made = [c for c in calls if not c.malformed and not c.injected and c.arguments is not None]
    expected = Counter(_call_key(c.tool, c.arguments, task, schemas) for c in task.solution)
    actual = Counter(_call_key(c.tool, c.arguments or {}, task, schemas) for c in made)
    matched = sum((expected & actual).values())
    malformed = sum(1 for c in calls if c.malformed)
    extra = len(made) - matched
    components["calls"] = {
        "matched": matched,
        "expected": sum(expected.values()),
        "extra": extra,
        "malformed": malformed,
    }
    penalty = extra * config.extra_call_penalty + malformed * config.malformed_call_penalty
    components["penalty"] = penalty
    if reference.fault is not None:
        components["reference_fault"] = reference.fault
    return Reward(total=_blend(components, config, penalty), components=components)


def _fractions(components: Mapping[str, Any]) -> tuple[list[float], float | None]:
    """Outcome scores (state, assertions, outputs) and the trace score (calls), each in [0, 1]."""
    outcome: list[float] = []
    state = components["state"]
    if state["fraction"] is not None:
        outcome.append(float(state["fraction"]))
    for name, passed in (("assertions", "passed"), ("outputs", "found")):
        part = components[name]
        if part is not None:
            outcome.append(part[passed] / part["total"])
    calls = components["calls"]
    trace = calls["matched"] / calls["expected"] if calls["expected"] else None
    return outcome, trace


def _blend(components: Mapping[str, Any], config: RewardConfig, penalty: float) -> float:
    outcome, trace = _fractions(components)
    if config.rule == "all_or_nothing":
        binary = [value == 1.0 for value in outcome]
        if components["state"]["match"] is False:
            return 0.0
        if not binary:
            return 1.0 if trace in (None, 1.0) else 0.0
        return 1.0 if all(binary) else 0.0
    if config.rule == "partial":
        parts = outcome + ([trace] if trace is not None else [])
        raw = sum(parts) / len(parts) if parts else 1.0
    else:
        outcome_score = sum(outcome) / len(outcome) if outcome else None
        if outcome_score is None and trace is None:
            raw = 1.0
        elif outcome_score is None:
            raw = trace or 0.0
        elif trace is None:
            raw = outcome_score
        else:
            total_weight = config.state_weight + config.trace_weight
            raw = (config.state_weight * outcome_score + config.trace_weight * trace) / total_weight
    return max(0.0, min(1.0, raw - penalty))
