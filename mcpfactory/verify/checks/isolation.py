"""isolation: sessions interleaved on one server never observe each other's writes."""

from __future__ import annotations

import random
from contextlib import AsyncExitStack
from typing import Any

from mcpfactory.runtime import canonical_json
from mcpfactory.verify._probe import Session, open_on
from mcpfactory.verify._runs import Step, describe_program, diff_changes, empty_changes, run_program, seed_sha256
from mcpfactory.verify._strategies import CallSpace
from mcpfactory.verify.checks._base import CheckContext, Evidence, Failed, Passed
from mcpfactory.verify.checks.fuzz import known_calls

__all__ = ["sessions_never_see_each_other"]

_SESSIONS = 4
_SEED_OFFSET = 2_000


async def sessions_never_see_each_other(ctx: CheckContext) -> Passed:
    """Prove that what one session writes is seen by no other, on one server object.

    Each drawn sequence runs alone on a new session first; then all run again
    with their calls interleaved, some sessions on their own connections and
    some named on a shared one, and every call must give what it gave alone.
    Afterwards a new session must still start from the seed.
    """
    evidence = Evidence()
    module = ctx.module()
    server = module.build(control=True)
    expected_hash = seed_sha256(ctx.spec.seed)
    collections = list(ctx.spec.spec.collections)
    async with AsyncExitStack() as stack:
        shared = await stack.enter_async_context(open_on(server, module, call_bound=ctx.options.call_bound))
        space = CallSpace(shared.tools, ctx.spec, known_calls(ctx))
        programs = space.programs(_SESSIONS, ctx.options.seed + _SEED_OFFSET, max_length=10, invalid_share=12)
        alone: list[list[Step]] = []
        seed_intact = True
        for number, program in enumerate(programs):
            alone.append(await run_program(shared.fresh("alone"), space, program))
            if seed_intact and await shared.fresh("probe").state_hash() != expected_hash:
                seed_intact = False
                state = await shared.fresh("probe").full_state()
                evidence.add(
                    "seed changed",
                    f"after sequence #{number} ran alone [{describe_program(alone[-1])}], a new session no longer "
                    f"starts from the seed: {diff_changes(state, ctx.spec.seed)}",
                )
        sessions: list[Session] = []
        for number in range(len(programs)):
            if number % 2 == 0:
                own = await stack.enter_async_context(open_on(server, module, call_bound=ctx.options.call_bound))
                sessions.append(own.session())
            else:
                sessions.append(shared.fresh("interleaved"))
        schedule = [n for n, program in enumerate(programs) for _ in program]
        random.Random(ctx.options.seed).shuffle(schedule)
        position = [0] * len(programs)
        changes: list[dict[str, Any]] = [empty_changes(collections) for _ in programs]
        diverged: set[int] = set()
        for number in schedule:
            index = position[number]
            position[number] += 1
            if number in diverged or index >= len(alone[number]):
                continue
            step = alone[number][index]
            arguments = space.resolve(step.call.arguments, changes[number])
            outcome = await sessions[number].call(step.call.tool, arguments)
            changes[number] = await sessions[number].changes()
            if outcome.comparable() != step.outcome.comparable():
                diverged.add(number)
                evidence.add(
                    "observed another session",
                    f"session #{number}, call {index + 1} {outcome.call_text()}: alone -> {step.outcome.describe()};"
                    f" interleaved with {len(programs) - 1} other sessions -> {outcome.describe()}",
                )
            elif diff := _state_difference(step, changes[number]):
                diverged.add(number)
                evidence.add("observed another session", f"session #{number}, after call {index + 1}: state {diff}")
        fresh = shared.fresh("after")
        if seed_intact and await fresh.state_hash() != expected_hash:
            state = await fresh.full_state()
            evidence.add("seed changed", f"after the interleaved run, a new session no longer starts from the seed: "
                         f"{diff_changes(state, ctx.spec.seed)}")  # fmt: skip
    calls = sum(len(steps) for steps in alone)
    stats = {"sessions": len(programs), "calls": 2 * calls}
    if evidence:
        raise Failed(f"sessions are not isolated: {evidence.summary()}", evidence.lines, stats)
    return Passed(f"{len(programs)} interleaved sessions ({calls} calls) each saw only their own writes", stats)


def _state_difference(step: Step, changes: dict[str, Any]) -> str | None:
    if canonical_json(changes) == step.changes_json:
        return None
    return f"alone vs interleaved: {diff_changes(step.changes, changes)}"
