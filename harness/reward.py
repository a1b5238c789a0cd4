"""Rewards: the one judge's verdict (`mcpfactory.runtime.judge`) blended into a number a trainer can use.

The judge decides, component by component, whether a run did its task:
`state` (the final state against the replayed reference solution's, masked
fields aside), `assertions`, `facts` (what the conversation had to state),
`never` (what it must not have stated) and `calls` (the reference calls the
agent made, with ignored arguments masked). A run *succeeds* when the verdict
passes, whatever rule turns it into a reward:

- `all_or_nothing` (tau-bench): 1.0 when the verdict passes, else 0.0;
  penalties do not apply;
- `blend` (EnvFactory's trace/state blend): `state_weight * outcome +
  trace_weight * calls`, minus penalties, clipped to [0, 1], where `outcome`
  is the mean of the state, assertion and fact scores; a disclosure zeroes it;
- `partial`: the mean of every applicable component, minus penalties, clipped.

Every component is kept in the record, so any rule can be recomputed later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from mcp.shared.exceptions import MCPError

from harness.connection import Connection
from harness.errors import ControlError, TaskError
from mcpfactory.runtime import StateView, Task, TurnOutcome, Verdict

__all__ = ["Reference", "ReferenceCache", "Reward", "RewardConfig", "reward_of"]

Rule = Literal["all_or_nothing", "blend", "partial"]


@dataclass(frozen=True, slots=True)
class RewardConfig:
    """How a verdict becomes one number."""

    rule: Rule = "all_or_nothing"
    state_weight: float = 0.5
    trace_weight: float = 0.5
    extra_call_penalty: float = 0.0
    malformed_call_penalty: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "state_weight": self.state_weight,
            "trace_weight": self.trace_weight,
            "extra_call_penalty": self.extra_call_penalty,
            "malformed_call_penalty": self.malformed_call_penalty,
        }


@dataclass(frozen=True, slots=True)
class Reward:
    """The total, whether the run succeeded (the verdict passed), and every component it came from."""

    total: float
    success: bool
    components: Mapping[str, Any]
    failures: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "success": self.success, **self.components}


def reward_of(verdict: Verdict, config: RewardConfig) -> Reward:
    """Blend a verdict into a reward under `config`'s rule; success is the verdict's."""
    components = dict(verdict.components)
    calls = components["calls"]
    penalty = calls["extra"] * config.extra_call_penalty + calls["malformed"] * config.malformed_call_penalty
    components["penalty"] = penalty
    if config.rule == "all_or_nothing":
        total = 1.0 if verdict.passed else 0.0
    elif components.get("never") and components["never"]["disclosed"]:
        total = 0.0  # a disclosure is never partly right
    else:
        outcome = _outcome_scores(components)
        trace = calls["matched"] / calls["expected"] if calls["expected"] else None
        if config.rule == "partial":
            parts = outcome + ([trace] if trace is not None else [])
            raw = sum(parts) / len(parts) if parts else 0.0
        else:
            outcome_score = sum(outcome) / len(outcome) if outcome else None
            if outcome_score is None:
                raw = trace if trace is not None else 0.0
            elif trace is None:
                raw = outcome_score
            else:
                weight = config.state_weight + config.trace_weight
                raw = (config.state_weight * outcome_score + config.trace_weight * trace) / weight
        total = max(0.0, min(1.0, raw - penalty))
    return Reward(total=total, success=verdict.passed, components=components, failures=verdict.failures)


def _outcome_scores(components: Mapping[str, Any]) -> list[float]:
    scores: list[float] = []
    state = components["state"]
    if state["fraction"] is not None:
        scores.append(float(state["fraction"]))
    for name, passed in (("assertions", "passed"), ("facts", "found"), ("results", "passed")):
        part = components.get(name)
        if part is not None:
            scores.append(part[passed] / part["total"])
    return scores


@dataclass(frozen=True, slots=True)
class Reference:
    """A task's reference run: where it started and where the solution ended, as views over the seed.

    `initial` and `final` are the task's own environment's states; a task
    judged by turns also keeps each turn's views of every environment and its
    calls' results (`turns`).
    """

    initial: StateView
    final: StateView
    fault: str | None = None
    turns: tuple[TurnOutcome, ...] = ()


class ReferenceCache:
    """Replay each task's reference solution once per process (per spec version) and keep its states."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, ...], Reference] = {}
        self._locks: dict[tuple[str, ...], anyio.Lock] = {}

    async def get(
        self, task: Task, connections: Connection | Mapping[str, Connection], *, timeout: float | None = None
    ) -> Reference:
        """Return the task's reference, replaying it on `connections` the first time (the caller resets after).

        `connections` is the session of the task's environment, or, for a task
        that uses several, a session of each by name.
        """
        sessions = dict(connections) if isinstance(connections, Mapping) else {task.env: connections}
        key = (*(f"{env}@{sessions[env].endpoint.spec_sha256 or ''}" for env in task.envs), task.id)
        if key in self._done:
            return self._done[key]
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            if key not in self._done:
                self._done[key] = await _replay(task, sessions, timeout)
        return self._done[key]


async def _replay(task: Task, sessions: Mapping[str, Connection], timeout: float | None) -> Reference:
    own = sessions[task.env]
    seed = await own.endpoint.seed_state(own)
    route: dict[str, str] = {}
    for env in task.envs:
        try:
            await sessions[env].reset(task.initial_for(env), timeout=timeout)
        except ControlError as exc:
            raise TaskError(task.id, f"{env} refuses its initial state: {exc}") from exc
        route.update({tool.name: env for tool in await sessions[env].tools()})
    initial = StateView(seed, await own.snapshot("changes", timeout=timeout))
    fault = None
    turns: list[TurnOutcome] = []
    for turn in range(task.turns):
        results: list[str] = []
        for index, call in enumerate(task.solution):
            if call.turn != turn or fault is not None:
                continue
            session = sessions.get(route.get(call.tool, task.env), own)
            try:
                result = await session.call_tool(call.tool, call.arguments, timeout=timeout)
            except MCPError as exc:
                raise TaskError(task.id, f"solution[{index}] calls {call.tool}: {exc.error.message}") from exc
            if result.fault is not None:
                fault = f"reference call {call.tool} hit an environment fault: {result.text}"
            results.append(result.text)
        if task.judge.kind == "turns":
            assert task.judge.view is not None
            views = {env: await sessions[env].view(task.judge.view, timeout=timeout) for env in task.envs}
            turns.append(TurnOutcome(views, tuple(results)))
    final = StateView(seed, await own.snapshot("changes", timeout=timeout))
    return Reference(initial=initial, final=final, fault=fault, turns=tuple(turns))
