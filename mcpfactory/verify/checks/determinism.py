"""determinism: the same calls from the same state give the same results and states, in any session or process.

"Any process" includes one under another string-hash seed, time zone and locale
(see `mcpfactory.verify._elsewhere`): a result must not depend on the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcpfactory.verify._elsewhere import elsewhere
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
    process with another string-hash seed (PYTHONHASHSEED), time zone and locale
    agrees call for call and ends each sequence in a state of the same hash,
    which exposes results that depend on the order of a set or on the machine.
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
        hashes: list[str] = []
        for number, program in enumerate(programs):
            session = connection.fresh("determinism")
            once = await run_program(session, space, program)
            hashes.append(await session.state_hash())
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
    cross = await _other_process(ctx, space, programs, first, hashes, evidence)
    stats["other_process"] = cross
    stats["elsewhere"] = elsewhere(ctx.other_hash_seed()).describe()
    if evidence:
        raise Failed(f"results are not deterministic: {evidence.summary()}", evidence.lines, stats)
    where = f"; another process ({stats['elsewhere']}) agrees" if cross == "agrees" else f"; other process: {cross}"
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
    hashes: Sequence[str],
    evidence: Evidence,
) -> str:
    if ctx.server_starts is False:
        return "skipped (the server does not start over stdio)"
    try:
        remote = await ctx.other_process()
        for number, program in enumerate(programs):
            session = remote.fresh("determinism")
            steps = await run_program(session, space, program)
            _compare(evidence, "other process", number, first[number], steps)
            if (other := await session.state_hash()) != hashes[number]:
                evidence.add(
                    "other process state",
                    f"other process: sequence #{number} ends in another state (hash {other[:12]}, here {hashes[number][:12]})",
                )
    except Exception as exc:  # boundary: whatever broke the second process is the finding
        evidence.add("other process", f"a second server process over stdio failed: {type(exc).__name__}: {exc}")
        return "failed"
    return "agrees"
