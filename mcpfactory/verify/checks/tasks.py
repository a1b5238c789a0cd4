"""tasks: each task's solution works, its judge accepts it, and the judge tells a wrong run from a right one."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import hypothesis.strategies as st

from mcpfactory.verify._judge import StateView, Verdict, differing_records, judge, outputs_found
from mcpfactory.verify._probe import Connection, Outcome, ProbeError
from mcpfactory.verify._strategies import Call, CallSpace, draw_many
from mcpfactory.verify._tasks import SolutionCall, Task, load_tasks
from mcpfactory.verify.checks._base import CheckContext, Evidence, Failed, Passed, Skipped
from mcpfactory.verify.checks.fuzz import known_calls

__all__ = ["tasks_are_solvable_and_discriminating"]

LAX_SHARE = 0.5  # a judge must reject at least this share of the perturbations that change the outcome
_MAX_PERTURBATIONS = 8
_REFUSAL_PROBES = 16
_SEED_OFFSET = 3_000


@dataclass(frozen=True, slots=True)
class _Run:
    outcomes: tuple[Outcome, ...]
    final: StateView
    answer: str


async def tasks_are_solvable_and_discriminating(ctx: CheckContext) -> Passed:
    """Prove each task in tasks.jsonl is solvable and judged by a check that can fail.

    The reference solution runs from the task's initial state without a fault,
    a timeout or arguments the server calls invalid; the judge accepts its
    result (that replays give the same result is the determinism check's job); doing nothing fails
    the judge (for a refusal task: a state-changing write does); and most
    single-call perturbations of the solution (a call dropped, an argument
    changed) that change the outcome fail it too.
    """
    if not ctx.tasks_path.exists():
        raise Skipped("the environment has no tasks.jsonl")
    tasks, problems = load_tasks(ctx.tasks_path)
    evidence = Evidence(limit=16, per_kind=16)
    for problem in problems:
        evidence.add("malformed task", problem)
    if not tasks and not problems:
        raise Skipped("tasks.jsonl holds no tasks")
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
    return Passed(f"all {checked} tasks solvable and judged discriminatingly ({perturbed} perturbations)", stats)


async def _check_task(
    ctx: CheckContext,
    connection: Connection,
    space: CallSpace,
    task: Task,
    evidence: Evidence,
    probes: list[Call],
    notes: Counter[str],
) -> int:
    name = f"task {task.id} (line {task.line})"
    for index, call in enumerate(task.solution):
        if call.tool not in space.tools:
            evidence.add("bad solution", f"{name}: solution[{index}] calls unknown tool {call.tool!r}")
            return 0
        if not space.validators[call.tool].is_valid(call.arguments):
            evidence.add("bad solution", f"{name}: solution[{index}] {call.tool} arguments do not fit its inputSchema")
            return 0
    try:
        initial = await _initial(ctx, connection, task)
        reference = await _run(ctx, connection, task, task.solution)
    except ProbeError as exc:
        evidence.add("bad initial state", f"{name}: the server refuses its initial state: {exc}")
        return 0
    for index, outcome in enumerate(reference.outcomes):
        # A domain error may be part of the reference path (a refusal, a lookup that misses);
        # whether the run reached the goal is the judge's to say, below.
        if outcome.kind not in ("ok", "error"):
            evidence.add("solution fails", f"{name}: solution call {index + 1} {outcome.describe()}")
            return 0
    # An expected output the solution's results never show verbatim (a sum, say) is the agent's to state:
    # runs replayed here are judged on the outputs their results can show.
    grounded = outputs_found(task.judge.outputs, reference.answer)
    notes["outputs_left_to_the_agent"] += len(set(task.judge.outputs) - grounded)
    notes["solution_calls_refused_by_the_domain"] += sum(o.kind == "error" for o in reference.outcomes)
    replayed = replace(task.judge, outputs=tuple(o for o in task.judge.outputs if o in grounded))
    verdict = judge(
        replayed, initial=initial, final=reference.final, reference=reference.final, answer=reference.answer
    )
    if not verdict.passed:
        evidence.add(
            "judge rejects the solution", f"{name}: the judge rejects the reference solution: {_reasons(verdict)}"
        )
        return 0
    nothing = judge(task.judge, initial=initial, final=initial, reference=reference.final, answer="")
    if task.refusal:
        refusal = replace(task, judge=replayed)
        return await _refusal_can_fail(ctx, connection, space, refusal, initial, reference, evidence, probes)
    if nothing.passed:
        evidence.add("check cannot fail", f"{name}: doing nothing passes its check (the check cannot fail)")
        return 0
    relevant = failing = 0
    passing: list[str] = []
    for label, calls in _perturbations(space, task, random.Random(f"{ctx.options.seed}:{task.id}")):
        run = await _run(ctx, connection, task, calls)
        if not _changes_outcome(task, reference, run):
            continue
        relevant += 1
        verdict = judge(replayed, initial=initial, final=run.final, reference=reference.final, answer=run.answer)
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


async def _initial(ctx: CheckContext, connection: Connection, task: Task) -> StateView:
    session = connection.fresh("task")
    if task.initial_state is None:
        return StateView(ctx.spec.seed, {})
    await session.reset(task.initial_state)
    return StateView(ctx.spec.seed, await session.changes())


async def _run(ctx: CheckContext, connection: Connection, task: Task, calls: Sequence[SolutionCall]) -> _Run:
    session = connection.fresh("task")
    if task.initial_state is not None:
        await session.reset(task.initial_state)
    outcomes = [await session.call(call.tool, call.arguments) for call in calls]
    answer = "\n".join(outcome.text for outcome in outcomes)
    return _Run(tuple(outcomes), StateView(ctx.spec.seed, await session.changes()), answer)


def _changes_outcome(task: Task, reference: _Run, run: _Run) -> bool:
    keys = reference.final.changed_keys() | run.final.changed_keys()
    if differing_records(reference.final, run.final, keys):
        return True
    return outputs_found(task.judge.outputs, reference.answer) != outputs_found(task.judge.outputs, run.answer)


def _perturbations(space: CallSpace, task: Task, rng: random.Random) -> list[tuple[str, list[SolutionCall]]]:
    """Single-call changes of the solution: drop one call, or change one argument that matters."""
    solution = list(task.solution)
    found: list[tuple[str, list[SolutionCall]]] = []
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
            changed = SolutionCall(call.tool, {**call.arguments, name: other})
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
    reference: _Run,
    evidence: Evidence,
    probes: list[Call],
) -> int:
    """A refusal's right outcome may be doing nothing; its check must still fail some state-changing write."""
    changing = 0
    for probe in probes:
        arguments = space.resolve(probe.arguments, {})
        run = await _run(ctx, connection, task, [*task.solution, SolutionCall(probe.tool, arguments)])
        if not differing_records(run.final, reference.final, run.final.changed_keys() | reference.final.changed_keys()):
            continue
        changing += 1
        verdict = judge(task.judge, initial=initial, final=run.final, reference=reference.final, answer=run.answer)
        if not verdict.passed:
            return changing
    if changing:
        evidence.add(
            "check cannot fail",
            f"task {task.id} (line {task.line}): a refusal whose check passes all {changing} state-changing writes tried",
        )
    return changing


def _reasons(verdict: Verdict) -> str:
    shown = "; ".join(verdict.failures[:3])
    more = len(verdict.failures) - 3
    return shown + (f"; and {more} more" if more > 0 else "")
