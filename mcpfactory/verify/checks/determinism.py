"""determinism: the same calls from the same state give the same results and states, in any session or process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcpfactory.verify._probe import Connection, open_on
from mcpfactory.verify._runs import Step, describe_program, diff_changes, first_difference, run_program, seed_sha256
from mcpfactory.verify._strategies import Call, CallSpace
from mcpfactory.verify.checks._base import CheckContext, Evidence, Failed, Passed
from mcpfactory.verify.checks.fuzz import known_calls

__all__ = ["same_calls_same_results"]

_PROGRAMS = 6
_SEED_OFFSET = 1_000


async def same_calls_same_results(ctx: CheckContext) -> Passed:
    """Prove that results and state depend only on the calls made and the state they start from.

    A new session's state is the spec's seed; each drawn sequence gives
    identical results and states run twice; a session reset after other calls
    is indistinguishable from a new one, as is a new connection; and a server
    process with another string-hash seed (PYTHONHASHSEED) agrees call for call,
    which exposes results that depend on the order of a set.
    """
    evidence = Evidence()
    stats: dict[str, Any] = {}
    module = ctx.module()
    server = module.build(control=True)
    async with open_on(server, module, call_bound=ctx.options.call_bound) as connection:
        space = CallSpace(connection.tools, ctx.spec, known_calls(ctx))
        programs = space.programs(_PROGRAMS, ctx.options.seed + _SEED_OFFSET, max_length=10, invalid_share=12)
        expected_hash = seed_sha256(ctx.spec.seed)
        fresh = connection.fresh("determinism")
        if await fresh.state_hash() != expected_hash:
            state = await fresh.full_state()
            evidence.add(
                "seed", f"a new session does not start from the spec's seed: {diff_changes(state, ctx.spec.seed)}"
            )
        first: list[list[Step]] = []
        for number, program in enumerate(programs):
            once = await run_program(connection.fresh("determinism"), space, program)
            twice = await run_program(connection.fresh("determinism"), space, program)
            first.append(once)
            _compare(evidence, "same calls twice", number, once, twice)
        if programs:
            await _reset_is_new(ctx, connection, space, programs, first, expected_hash, evidence)
            async with open_on(server, module, call_bound=ctx.options.call_bound) as other:
                probe = await run_program(other.session(), space, programs[-1])
                _compare(evidence, "new connection", len(programs) - 1, first[-1], probe)
        stats["sequences"] = len(programs)
        stats["calls"] = sum(len(steps) for steps in first)
    cross = await _other_process(ctx, space, programs, first, evidence)
    stats["other_process"] = cross
    if evidence:
        raise Failed(f"results are not deterministic: {evidence.summary()}", evidence.lines, stats)
    where = "; another process (other hash seed) agrees" if cross == "agrees" else f"; other process: {cross}"
    return Passed(
        f"{len(programs)} sequences gave identical results twice; reset ≡ new session ≡ new connection{where}", stats
    )


def _compare(evidence: Evidence, kind: str, number: int, left: Sequence[Step], right: Sequence[Step]) -> None:
    found = first_difference(left, right)
    if found is not None:
        index, what = found
        evidence.add(
            kind, f"{kind}: sequence #{number} [{describe_program(left, index)}] parts at call {index + 1}: {what}"
        )


async def _reset_is_new(
    ctx: CheckContext,
    connection: Connection,
    space: CallSpace,
    programs: Sequence[Sequence[Call]],
    first: Sequence[Sequence[Step]],
    expected_hash: str,
    evidence: Evidence,
) -> None:
    session = connection.fresh("determinism")
    for program in programs[:-1]:
        await run_program(session, space, program)
    await session.reset()
    if await session.state_hash() != expected_hash:
        evidence.add("reset", "a reset session does not hold the seed state")
    probe = await run_program(session, space, programs[-1])
    _compare(evidence, "reset vs new session", len(programs) - 1, first[-1], probe)


async def _other_process(
    ctx: CheckContext,
    space: CallSpace,
    programs: Sequence[Sequence[Call]],
    first: Sequence[Sequence[Step]],
    evidence: Evidence,
) -> str:
    if ctx.server_starts is False:
        return "skipped (the server does not start over stdio)"
    try:
        remote = await ctx.other_process()
        for number, program in enumerate(programs):
            steps = await run_program(remote.fresh("determinism"), space, program)
            _compare(evidence, "other process", number, first[number], steps)
    except Exception as exc:  # boundary: whatever broke the second process is the finding
        evidence.add("other process", f"a second server process over stdio failed: {type(exc).__name__}: {exc}")
        return "failed"
    return "agrees"
