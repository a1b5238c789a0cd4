"""Check a synthesised task on the environment: the solution passes, doing nothing fails, the check discriminates.

- *replay*: the reference solution, replayed from the seed, succeeds call by
  call, reaches the state the chain reached, breaks no invariant, and passes
  the judge (its answer being what the calls returned);
- *empty*: a run that does nothing fails the judge;
- *perturbations*: single-call changes of the solution (a write dropped, one
  argument left out or given another plausible value) run from the state
  before that call; an argument whose every perturbation still passes does not
  matter and goes to `judge.ignore_args`; a dropped write that still passes
  means the write is redundant and the task is rejected.

Read calls never change the state, so for a task with writes they are left
out of perturbation runs and all their arguments are ignorable.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcpfactory.synth._chains import Chain
from mcpfactory.synth._judge import judge_run, real_changes
from mcpfactory.synth._session import EnvSession
from mcpfactory.synth._values import StateView, ValueSource
from mcpfactory.synth.graph import Param, ToolGraph

__all__ = ["Checked", "Rejected", "check_task"]

State = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a candidate task was not kept."""

    reason: str
    detail: str = ""
    step: int | None = None  # the call at fault, where one is


@dataclass
class Checked:
    """A task that passed: what its perturbations gave, and the arguments that do not matter."""

    ignore_args: dict[str, list[str]]
    perturbations: int = 0
    perturbations_failed: int = 0
    runs: int = 0


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


async def check_task(
    session: EnvSession,
    chain: Chain,
    judge: Mapping[str, Any],
    graph: ToolGraph,
    seed: State,
    values: ValueSource,
    rng: random.Random,
) -> Checked | Rejected:
    """Run the checks of the module docstring on `session`; return the outcome."""
    steps = chain.steps
    await session.reset()
    texts: list[str] = []
    before: dict[int, dict[str, dict[str, Any]]] = {}
    current: dict[str, dict[str, Any]] = {}
    for index, step in enumerate(steps):
        if not step.read_only:
            before[index] = current
        result = await session.call(step.tool, step.arguments)
        if not result.ok:
            return Rejected("replay_failed", f"{step.tool}: {result.text[:200]}")
        if _canonical(result.value) != _canonical(step.value):
            return Rejected("nondeterministic", f"{step.tool} returned something else on replay")
        texts.append(result.text)
        if not step.read_only:
            current = await session.changes()
    if _canonical(real_changes(current, seed)) != _canonical(real_changes(chain.changes, seed)):
        return Rejected("nondeterministic", "the replayed solution reached another state")
    violations = await session.invariant_violations()
    if violations:
        return Rejected("invariant_violated", "; ".join(v["name"] for v in violations))
    answer = "\n".join(texts)
    if not judge_run(judge, changes=current, reference=current, seed=seed, answer=answer):
        return Rejected("solution_fails", "the reference solution does not pass its own judge")
    if judge_run(judge, changes={}, reference=current, seed=seed, answer=""):
        return Rejected("trivial", "doing nothing passes the judge")

    checked = Checked(ignore_args={})
    has_writes = bool(chain.writes)
    verdicts: dict[tuple[str, str], list[bool]] = {}
    for index, step in enumerate(steps):
        if step.read_only and (has_writes or step.role == "lookup"):
            continue
        params = {p.name: p for p in graph.params[step.tool]}
        if not step.read_only:
            passed = await _run_from(session, steps, index, None, before[index], judge, current, seed, texts)
            checked.runs += 1
            checked.perturbations += 1
            if passed:
                return Rejected("redundant_write", f"dropping {step.tool} still passes the judge", index)
            checked.perturbations_failed += 1
        for name, value in step.arguments.items():
            param = params.get(name)
            if param is None:
                continue
            view = StateView(seed, before.get(index, {}))
            for replacement in _alternatives(param, value, values, rng, view):
                arguments = dict(step.arguments)
                if replacement is _DROP:
                    arguments.pop(name)
                else:
                    arguments[name] = replacement
                passed = await _run_from(
                    session, steps, index, arguments, before.get(index, {}), judge, current, seed, texts
                )
                checked.runs += 1
                checked.perturbations += 1
                checked.perturbations_failed += not passed
                verdicts.setdefault((step.tool, name), []).append(passed)
    checked.ignore_args = _ignorable(steps, graph, verdicts, has_writes)
    return checked


_DROP: Any = object()


def _alternatives(param: Param, value: Any, values: ValueSource, rng: random.Random, view: StateView) -> list[Any]:
    """Up to two perturbations of one argument: leave it out (if optional), and another plausible value."""
    out: list[Any] = []
    if not param.required and not (param.has_default and _canonical(param.default) == _canonical(value)):
        out.append(_DROP)
    if param.enum and param.kind != "array":
        others = [v for v in param.enum if v != value]
        if others:
            out.append(rng.choice(others))
        return out
    for _ in range(4):
        candidate = values.value(param, rng, view, [])
        if _canonical(candidate) != _canonical(value):
            out.append(candidate)
            break
    return out


async def _run_from(
    session: EnvSession,
    steps: Sequence[Any],
    index: int,
    arguments: Mapping[str, Any] | None,
    start: Mapping[str, Any],
    judge: Mapping[str, Any],
    reference: State,
    seed: State,
    texts: Sequence[str],
) -> bool:
    """Replay from step `index` with that call changed (`None` drops it); does the judge still pass?

    Earlier calls are stood in for by resetting to the changes they made;
    later reads are skipped when they cannot change the outcome.
    """
    await session.reset({"patch": start} if start else None)
    answer = list(texts[:index])
    for later in range(index, len(steps)):
        step = steps[later]
        if later == index:
            if arguments is None:
                continue
            result = await session.call(step.tool, arguments)
        elif step.read_only:
            answer.append(texts[later])
            continue
        else:
            result = await session.call(step.tool, step.arguments)
        answer.append(result.text if result.ok else "")
    changes = await session.changes()
    return judge_run(judge, changes=changes, reference=reference, seed=seed, answer="\n".join(answer))


def _ignorable(
    steps: Sequence[Any], graph: ToolGraph, verdicts: Mapping[tuple[str, str], list[bool]], has_writes: bool
) -> dict[str, list[str]]:
    """Per tool, the arguments that never changed whether the judge passed.

    A tool only ever used for reads that cannot change the outcome ignores all
    its parameters; otherwise an argument is ignored when every perturbation
    of it, in every checked call of the tool, still passed.
    """
    unchecked: set[str] = set()
    checked: dict[str, list[set[str]]] = {}
    for step in steps:
        if step.read_only and (has_writes or step.role == "lookup"):
            unchecked.add(step.tool)
            continue
        names = {name for name in step.arguments if all(verdicts.get((step.tool, name), [False]))}
        checked.setdefault(step.tool, []).append(names)
    ignore = {tool: {p.name for p in graph.params[tool]} for tool in unchecked - set(checked)}
    for tool, sets in checked.items():
        ignore[tool] = set.intersection(*sets)
    return {tool: sorted(names) for tool, names in sorted(ignore.items()) if names}
