"""tasks: each task is solvable, judged by the one judge, and earns nothing for a trivial agent.

For every task of tasks.jsonl (read by the runtime's strict loader):

- its reference solution runs from the task's initial state without a fault,
  a timeout or arguments the server calls invalid, and the judge accepts it
  (with the oracle's answer: a plain statement of every required fact);
- a refusal states a reason: its judge requires at least one fact (the rule,
  date, amount or status that blocks the request), so a generic refusal fails;
- no trivial agent passes it: silent (no message, no call), a generic
  refusal, a bare "done", tool spam (the first tool with `{}`, over and over)
  and random valid calls; a task one of them passes is rejected, naming the agent;
- most single-call perturbations of the solution that change the outcome
  (a call dropped, an argument changed) fail the judge, and for a refusal,
  a state-changing write fails it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import hypothesis.strategies as st

from mcpfactory.runtime import (
    TRIVIAL_ANSWERS,
    MCPFactoryError,
    Run,
    RunCall,
    StateView,
    Task,
    Verdict,
    judge,
    load_tasks,
)
from mcpfactory.runtime._judge import MISSING
from mcpfactory.verify._probe import Connection, Outcome, ProbeError
from mcpfactory.verify._strategies import Call, CallSpace, draw_many
from mcpfactory.verify.checks._base import CheckContext, Evidence, Failed, Passed, Skipped
from mcpfactory.verify.checks.fuzz import known_calls

__all__ = ["tasks_are_solvable_and_discriminating"]

LAX_SHARE = 0.5  # a judge must reject at least this share of the perturbations that change the outcome
_MAX_PERTURBATIONS = 8
_REFUSAL_PROBES = 16
_SPAM_CALLS = 6
_RANDOM_CALLS = 6
_SEED_OFFSET = 3_000


@dataclass(frozen=True, slots=True)
class _Replay:
    outcomes: tuple[Outcome, ...]
    final: StateView


async def tasks_are_solvable_and_discriminating(ctx: CheckContext) -> Passed:
    """Prove each task in tasks.jsonl is solvable, judged by a check that can fail, and not given away."""
    if not ctx.tasks_path.exists():
        raise Skipped("the environment has no tasks.jsonl")
    try:
        tasks = load_tasks(ctx.tasks_path)
    except MCPFactoryError as exc:
        raise Failed(f"tasks.jsonl does not load: {exc}", [str(exc)]) from None
    if not tasks:
        raise Skipped("tasks.jsonl holds no tasks")
    evidence = Evidence(limit=16, per_kind=16)
    checked = perturbed = 0
    notes: Counter[str] = Counter()
    async with ctx.memory() as connection:
        space = CallSpace(connection.tools, ctx.spec, known_calls(ctx))
        probes = _write_probes(ctx, space)
        for task in tasks:
            if ctx.time_left() <= 0:
                break
            perturbed += await _check_task(ctx, connection, space, task, evidence, probes, notes)
            checked += 1
    stats = {"tasks": len(tasks), "checked": checked, "perturbations": perturbed, **notes}
    if evidence:
        raise Failed(f"{evidence.count} task problems: {evidence.summary()}", evidence.lines, stats)
    if checked < len(tasks):
        return Passed(f"{checked} of {len(tasks)} tasks checked within the time budget; all sound", stats)
    return Passed(
        f"all {checked} tasks solvable, judged discriminatingly and failed by every trivial agent "
        f"({perturbed} perturbations)",
        stats,
    )


def _name(task: Task) -> str:
    return f"{task.where}: task {task.id}"


async def _check_task(
    ctx: CheckContext,
    connection: Connection,
    space: CallSpace,
    task: Task,
    evidence: Evidence,
    probes: list[Call],
    notes: Counter[str],
) -> int:
    name = _name(task)
    if task.env != ctx.spec.name:
        evidence.add("bad task", f"{name}: env is {task.env!r}, not {ctx.spec.name!r}")
        return 0
    for index, call in enumerate(task.solution):
        if call.tool not in space.tools:
            evidence.add("bad solution", f"{name}: solution[{index}] calls unknown tool {call.tool!r}")
            return 0
        if not space.validators[call.tool].is_valid(dict(call.arguments)):
            evidence.add("bad solution", f"{name}: solution[{index}] {call.tool} arguments do not fit its inputSchema")
            return 0
    if task.refusal and not task.judge.facts:
        evidence.add(
            "refusal without a reason",
            f"{name}: a refusal must state why (judge.facts: the rule, date, amount or status that blocks it)",
        )
        return 0
    try:
        initial = await _initial(ctx, connection, task)
        reference = await _replay(ctx, connection, task, _solution(task))
    except ProbeError as exc:
        evidence.add("bad initial state", f"{name}: the server refuses its initial state: {exc}")
        return 0
    for index, outcome in enumerate(reference.outcomes):
        # A domain error may be part of the reference path (a refusal, a lookup that misses);
        # whether the run reached the goal is the judge's to say, below.
        if outcome.kind not in ("ok", "error"):
            evidence.add("solution fails", f"{name}: solution call {index + 1} {outcome.describe()}")
            return 0
    notes["solution_calls_refused_by_the_domain"] += sum(o.kind == "error" for o in reference.outcomes)
    answer = _oracle_answer(task)
    solved = _judge(task, reference.final, [answer], _solution(task), initial, reference)
    if not solved.passed:
        evidence.add(
            "judge rejects the solution", f"{name}: the judge rejects the reference solution: {_reasons(solved)}"
        )
        return 0
    for agent, trivial in await _trivial_runs(ctx, connection, space, task):
        if judge(task, trivial, initial=initial, reference=reference.final).passed:
            evidence.add("trivial agent passes", f"{name}: the trivial agent '{agent}' passes it (it earns a reward)")
            return 0
    notes["trivial_agents_failed"] += 5
    if task.refusal:
        return await _refusal_can_fail(ctx, connection, space, task, initial, reference, evidence, probes)
    relevant = failing = 0
    passing: list[str] = []
    for label, calls in _perturbations(space, task, random.Random(f"{ctx.options.seed}:{task.id}")):
        run = await _replay(ctx, connection, task, calls)
        if not _changes_outcome(reference, run):
            continue
        relevant += 1
        verdict = _judge(task, run.final, [answer], calls, initial, reference)
        if verdict.passed:
            passing.append(label)
        else:
            failing += 1
    if relevant and failing < LAX_SHARE * relevant:
        evidence.add(
            "lax check",
            f"{name}: {relevant - failing} of {relevant} perturbed solutions that change the outcome still pass "
            f"(e.g. {passing[0]})",
        )
    return relevant


def _oracle_answer(task: Task) -> str:
    facts = [fact.say() for fact in task.judge.facts]
    return "\n".join(facts) if facts else "Done."


def _solution(task: Task) -> list[Call]:
    return [Call(call.tool, dict(call.arguments)) for call in task.solution]


def _judge(
    task: Task, final: StateView, messages: Sequence[str], calls: Sequence[Call], initial: StateView, reference: _Replay
) -> Verdict:
    run_calls = [RunCall(c.tool, dict(c.arguments)) for c in calls]
    return judge(task, Run(final, messages, run_calls), initial=initial, reference=reference.final)


async def _initial(ctx: CheckContext, connection: Connection, task: Task) -> StateView:
    if task.initial_state is None:
        return StateView(ctx.spec.seed, {})
    session = connection.fresh("task")
    await session.reset(task.initial_state)
    return StateView(ctx.spec.seed, await session.changes())


async def _replay(ctx: CheckContext, connection: Connection, task: Task, calls: Sequence[Call]) -> _Replay:
    session = connection.fresh("task")
    if task.initial_state is not None:
        await session.reset(task.initial_state)
    outcomes = [await session.call(c.tool, dict(c.arguments)) for c in calls]
    return _Replay(tuple(outcomes), StateView(ctx.spec.seed, await session.changes()))


async def _trivial_runs(
    ctx: CheckContext, connection: Connection, space: CallSpace, task: Task
) -> list[tuple[str, Run]]:
    """What each trivial agent leaves behind on this task: its final state, its words and its calls."""
    runs: list[tuple[str, Run]] = []
    untouched = await _replay(ctx, connection, task, [])
    for agent, answer in TRIVIAL_ANSWERS.items():
        runs.append((agent, Run(untouched.final, [answer] if answer else [], [])))
    first = sorted(space.tools)[0] if space.tools else None
    if first is not None:
        spam = [Call(first, {})] * _SPAM_CALLS
        spammed = await _replay(ctx, connection, task, spam)
        runs.append(("tool-spam", Run(spammed.final, [], [RunCall(c.tool, dict(c.arguments)) for c in spam])))
    rng_seed = ctx.options.seed + _SEED_OFFSET + sum(map(ord, task.id))
    tools = sorted(space.tools)
    if tools:
        drawn = draw_many(st.one_of([space.valid_call(tool) for tool in tools]), _RANDOM_CALLS, rng_seed)
        calls = [Call(call.tool, space.resolve(call.arguments, {})) for call in drawn]
        randomised = await _replay(ctx, connection, task, calls)
        runs.append(("random", Run(randomised.final, ["Done."], [RunCall(c.tool, dict(c.arguments)) for c in calls])))
    return runs


def _changes_outcome(reference: _Replay, run: _Replay) -> bool:
    keys = reference.final.changed_keys() | run.final.changed_keys()
    return any(_differs(reference.final, run.final, key) for key in keys)


def _differs(left: StateView, right: StateView, key: tuple[str, str]) -> bool:
    a, b = left.record(*key), right.record(*key)
    if a is MISSING or b is MISSING:
        return a is not b
    return bool(a != b)


def _perturbations(space: CallSpace, task: Task, rng: random.Random) -> list[tuple[str, list[Call]]]:
    """Single-call changes of the solution: drop one call, or change one argument that matters."""
    solution = _solution(task)
    found: list[tuple[str, list[Call]]] = []
    for index, call in enumerate(solution):
        found.append((f"without call {index + 1} ({call.tool})", solution[:index] + solution[index + 1 :]))
    for index, call in enumerate(solution):
        ignored = set(task.judge.ignore_args.get(call.tool, ()))
        for name, value in sorted(call.arguments.items()):
            if name in ignored:
                continue
            other = space.alternative(call.tool, name, value, rng)
            if other is None or other == value:
                continue
            changed = Call(call.tool, {**call.arguments, name: other})
            label = f"call {index + 1} {call.tool} with {name}={other!r} instead of {value!r}"
            found.append((label, [*solution[:index], changed, *solution[index + 1 :]]))
    if len(found) > _MAX_PERTURBATIONS:
        found = rng.sample(found, _MAX_PERTURBATIONS)
    return found


def _write_probes(ctx: CheckContext, space: CallSpace) -> list[Call]:
    """Writes to try against refusal tasks: the known write calls, then some drawn ones (drawn once)."""
    writes = sorted(
        name for name, tool in ctx.spec.spec.tools.items() if tool.effect == "write" and name in space.tools
    )
    if not writes:
        return []
    known = [Call(name, args) for name in writes for args in space.known_args.get(name, [])]
    drawn = draw_many(
        st.one_of([space.valid_call(name) for name in writes]), _REFUSAL_PROBES, ctx.options.seed + _SEED_OFFSET
    )
    return known + drawn


async def _refusal_can_fail(
    ctx: CheckContext,
    connection: Connection,
    space: CallSpace,
    task: Task,
    initial: StateView,
    reference: _Replay,
    evidence: Evidence,
    probes: list[Call],
) -> int:
    """A refusal's right outcome may be doing nothing; its check must still fail some state-changing write."""
    changing = 0
    answer = _oracle_answer(task)
    for probe in probes:
        arguments = space.resolve(probe.arguments, {})
        calls = [*_solution(task), Call(probe.tool, arguments)]
        run = await _replay(ctx, connection, task, calls)
        if not _changes_outcome(reference, run):
            continue
        changing += 1
        if not _judge(task, run.final, [answer], calls, initial, reference).passed:
            return changing
    if changing:
        evidence.add(
            "check cannot fail",
            f"{_name(task)}: a refusal whose check passes all {changing} state-changing writes tried",
        )
    return changing


def _reasons(verdict: Verdict) -> str:
    shown = "; ".join(verdict.failures[:3])
    more = len(verdict.failures) - 3
    return shown + (f"; and {more} more" if more > 0 else "")
