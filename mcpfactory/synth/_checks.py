"""Check a synthesised task on the environment before it is kept.

- *replay*: the reference solution, replayed from the seed, gets the same
  result call by call (a refused request the same error), reaches the state
  the chain reached, breaks no invariant, and passes the judge, both with an
  answer stating everything its results showed and with the verifier's
  oracle answer (each required fact, plainly);
- *trivial agents*: the verifier's own trivial agents all fail it: silent, a
  generic refusal and a bare "done" (`mcpfactory.runtime.TRIVIAL_ANSWERS`),
  tool spam (the first tool with `{}`, six times) and random calls, so no task
  is kept that `mcpfactory verify --check tasks` would reject for them;
- *perturbations* (tasks that are not refusals): single-call changes of the
  solution (a write dropped, one argument left out or given another plausible
  value) run from the state before that call; an argument whose every
  perturbation still passes does not matter and goes to `judge.ignore_args`;
  a dropped write that still passes means the write is redundant and the task
  is rejected.

Read calls never change the state, so for a task with writes they are left
out of perturbation runs and all their arguments are ignorable.

`free_text_masks` finds where optional free text the user never dictated (a
memo, special requests) would be written, so an agent that fills it in is
not failed for it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcpfactory.runtime import TRIVIAL_ANSWERS
from mcpfactory.synth._chains import Chain, Step
from mcpfactory.synth._judge import answer_of, judge_run, oracle_answer, real_changes
from mcpfactory.synth._session import EnvSession
from mcpfactory.synth._values import OMIT, StateView, ValueSource, is_free_text
from mcpfactory.synth.graph import Param, ToolGraph

__all__ = ["Checked", "Rejected", "check_refusal", "check_task", "free_text_masks", "trivial_agent_passing"]

State = Mapping[str, Mapping[str, Any]]
_SPAM_CALLS = 6
_RANDOM_CALLS = 6
_MARKER = "Please leave a bottle of water in the room."


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


async def trivial_agent_passing(
    session: EnvSession,
    judge: Mapping[str, Any],
    reference: State,
    seed: State,
    graph: ToolGraph,
    values: ValueSource,
    rng: random.Random,
) -> str | None:
    """The first trivial agent that passes the judge from the seed, or None when all fail."""
    for agent, answer in TRIVIAL_ANSWERS.items():
        if judge_run(judge, changes={}, reference=reference, seed=seed, answer=answer or ""):
            return agent
    tools = sorted(graph.tools)
    if not tools:
        return None
    await session.reset()
    for _ in range(_SPAM_CALLS):
        await session.call(tools[0], {})
    if judge_run(judge, changes=await session.changes(), reference=reference, seed=seed, answer=""):
        return "tool-spam"
    await session.reset()
    view = StateView(seed, {})
    for _ in range(_RANDOM_CALLS):
        tool = rng.choice(tools)
        arguments = {}
        for param in graph.params[tool]:
            value = values.propose(param, rng, view, []) if param.required else OMIT
            if value is not OMIT:
                arguments[param.name] = value
        await session.call(tool, arguments)
    if judge_run(judge, changes=await session.changes(), reference=reference, seed=seed, answer="Done."):
        return "random"
    return None


async def _replay(
    session: EnvSession, steps: Sequence[Step], seed: State
) -> tuple[dict[str, Any], list[Any]] | Rejected:
    """Replay the steps from the seed; the final changes and the values (or error texts) they returned."""
    await session.reset()
    shown: list[Any] = []
    for step in steps:
        result = await session.call(step.tool, step.arguments)
        if step.value is None and not step.read_only and not result.ok:
            # A refused request: the environment refuses it again, the same way.
            if result.text != step.text:
                return Rejected("nondeterministic", f"{step.tool} was refused otherwise on replay")
            shown.append(result.text)
            continue
        if not result.ok:
            return Rejected("replay_failed", f"{step.tool}: {result.text[:200]}")
        if _canonical(result.value) != _canonical(step.value):
            return Rejected("nondeterministic", f"{step.tool} returned something else on replay")
        shown.append(result.value)
    return await session.changes(), shown


async def _sound(
    session: EnvSession,
    steps: Sequence[Step],
    expected: State,
    judge: Mapping[str, Any],
    seed: State,
    graph: ToolGraph,
    values: ValueSource,
    rng: random.Random,
    *,
    from_results: bool = True,
) -> tuple[dict[str, Any], list[Any]] | Rejected:
    """The checks every task gets: replay, invariants, the judge passes the solution, trivial agents fail.

    The solution passes with the verifier's oracle answer and, `from_results`,
    with an answer that states only what its calls showed (so the facts can be
    learnt from the environment).
    """
    replayed = await _replay(session, steps, seed)
    if isinstance(replayed, Rejected):
        return replayed
    current, shown = replayed
    if _canonical(real_changes(current, seed)) != _canonical(real_changes(expected, seed)):
        return Rejected("nondeterministic", "the replayed solution reached another state")
    violations = await session.invariant_violations()
    if violations:
        return Rejected("invariant_violated", "; ".join(v["name"] for v in violations))
    for answer in [answer_of(shown)] * from_results + [oracle_answer(judge)]:
        if not judge_run(judge, changes=current, reference=current, seed=seed, answer=answer):
            return Rejected("solution_fails", "the reference solution does not pass its own judge")
    agent = await trivial_agent_passing(session, judge, current, seed, graph, values, rng)
    if agent is not None:
        return Rejected("trivial", f"the trivial agent '{agent}' passes the judge")
    return current, shown


async def check_refusal(
    session: EnvSession,
    chain: Chain,
    judge: Mapping[str, Any],
    seed: State,
    graph: ToolGraph,
    values: ValueSource,
    rng: random.Random,
    *,
    from_results: bool = True,
) -> Checked | Rejected:
    """Check a refusal: sound (module docstring); `from_results` when its reason is in the environment's answer."""
    sound = await _sound(
        session, chain.steps, chain.changes, judge, seed, graph, values, rng, from_results=from_results
    )
    if isinstance(sound, Rejected):
        return sound
    return Checked(ignore_args={})


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
    sound = await _sound(session, steps, chain.changes, judge, seed, graph, values, rng)
    if isinstance(sound, Rejected):
        return sound
    current, shown = sound
    texts = [answer_of([value]) for value in shown]
    before = {index: dict(step.before) for index, step in enumerate(steps)}
    checked = Checked(ignore_args={})
    has_writes = bool(chain.writes)
    verdicts: dict[tuple[str, str], list[bool]] = {}
    for index, step in enumerate(steps):
        if step.read_only and (has_writes or step.role != "goal"):
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
            view = StateView(seed, before[index])
            for replacement in _alternatives(param, value, values, rng, view):
                arguments = dict(step.arguments)
                if replacement is _DROP:
                    arguments.pop(name)
                else:
                    arguments[name] = replacement
                passed = await _run_from(session, steps, index, arguments, before[index], judge, current, seed, texts)
                checked.runs += 1
                checked.perturbations += 1
                checked.perturbations_failed += not passed
                verdicts.setdefault((step.tool, name), []).append(passed)
    checked.ignore_args = _ignorable(steps, graph, verdicts, has_writes)
    return checked


async def free_text_masks(session: EnvSession, chain: Chain, graph: ToolGraph) -> dict[str, list[str]]:
    """Per collection, the fields where optional free text left out of the solution's writes would go."""
    masks: dict[str, set[str]] = {}
    for step in chain.steps:
        if step.read_only or step.value is None:
            continue
        for param in graph.params[step.tool]:
            if param.required or param.name in step.arguments or not is_free_text(param):
                continue
            await session.reset({"patch": dict(step.before)} if step.before else None)
            result = await session.call(step.tool, {**step.arguments, param.name: _MARKER})
            if not result.ok:
                continue
            for collection, records in (await session.changes()).items():
                for record in records.values():
                    if not isinstance(record, Mapping):
                        continue
                    for name, value in record.items():
                        if _MARKER in json.dumps(value, ensure_ascii=False):
                            masks.setdefault(collection, set()).add(str(name))
    return {collection: sorted(fields) for collection, fields in sorted(masks.items())}


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
    steps: Sequence[Step],
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
    later reads are skipped when they cannot change the outcome. The answer
    states everything the calls showed.
    """
    await session.reset({"patch": dict(start)} if start else None)
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
        answer.append(answer_of([result.value]) if result.ok else "")
    changes = await session.changes()
    return judge_run(judge, changes=changes, reference=reference, seed=seed, answer="\n".join(answer))


def _ignorable(
    steps: Sequence[Step], graph: ToolGraph, verdicts: Mapping[tuple[str, str], list[bool]], has_writes: bool
) -> dict[str, list[str]]:
    """Per tool, the arguments that never changed whether the judge passed.

    A tool only ever used for reads that cannot change the outcome ignores all
    its parameters; otherwise an argument is ignored when every perturbation
    of it, in every checked call of the tool, still passed.
    """
    unchecked: set[str] = set()
    checked: dict[str, list[set[str]]] = {}
    for step in steps:
        if step.read_only and (has_writes or step.role != "goal"):
            unchecked.add(step.tool)
            continue
        names = {name for name in step.arguments if all(verdicts.get((step.tool, name), [False]))}
        checked.setdefault(step.tool, []).append(names)
    ignore = {tool: {p.name for p in graph.params[tool]} for tool in unchecked - set(checked)}
    for tool, sets in checked.items():
        ignore[tool] = set.intersection(*sets)
    return {tool: sorted(names) for tool, names in sorted(ignore.items()) if names}
