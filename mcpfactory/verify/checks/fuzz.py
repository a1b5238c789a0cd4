"""fuzz: drawn calls, valid and broken, never fault, break a schema or an invariant, hang, or write from a read."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import jsonschema

from mcpfactory.runtime import RETURNED_ERROR, MCPFactoryError, canonical_json, load_tasks
from mcpfactory.verify._probe import Connection, Outcome, Session
from mcpfactory.verify._runs import diff_changes, empty_changes
from mcpfactory.verify._strategies import Call, CallSpace
from mcpfactory.verify.checks._base import CheckContext, Evidence, Failed, Passed

__all__ = ["fuzzed_calls_keep_the_contract", "known_calls"]

_CHEAP_HASH = 0.003  # seconds: below this, hash the state after every read call
_MAX_FINDINGS = 40
_MAX_TIMEOUTS = 2


def known_calls(ctx: CheckContext) -> list[tuple[str, dict[str, Any]]]:
    """The calls of the tasks' reference solutions: good argument values to draw from."""
    if not ctx.tasks_path.exists():
        return []
    try:
        tasks = load_tasks(ctx.tasks_path)
    except MCPFactoryError:
        return []  # the tasks check reports a tasks file that does not load
    return [(call.tool, dict(call.arguments)) for task in tasks for call in task.solution]


def program_count(tools: int) -> int:
    return max(60, min(240, 8 * tools))


async def fuzzed_calls_keep_the_contract(ctx: CheckContext) -> Passed:
    """Prove that drawn call sequences from the seed keep the server's contract on every call.

    No call may fault (a masked bug); valid arguments are never refused as
    invalid and broken ones always are; every success conforms to its output
    schema; every invariant holds after every change; every call finishes within
    the per-call bound; read tools and failed calls leave the state as it was,
    and no session's call changes the seed that new sessions start from.
    """
    spec = ctx.spec
    started = time.monotonic()
    async with ctx.memory() as connection:
        space = CallSpace(connection.tools, spec, known_calls(ctx))
        programs = space.sweep(ctx.options.seed) + space.programs(program_count(len(space.tools)), ctx.options.seed)
        run = _FuzzRun(ctx, connection, space)
        await run.start()
        done = 0
        for number, program in enumerate(programs):
            if ctx.time_left() <= 0 or run.evidence.count >= _MAX_FINDINGS or run.timeouts >= _MAX_TIMEOUTS:
                break
            await run.program(number, program)
            done += 1
            if run.hash_cheap or number == len(programs) - 1:
                await run.check_seed(number)
        if not run.hash_cheap and done < len(programs):
            await run.check_seed(done - 1)
    kinds = dict(sorted(run.kinds.items()))
    stats: dict[str, Any] = {
        "sequences": done,
        "sequences_drawn": len(programs),
        "calls": run.calls,
        "outcomes": kinds,
        "tools_never_succeeded": sorted(set(space.tools) - run.succeeded),
        "seconds_generating": round(run.generated_at - started, 3),
    }
    if run.evidence:
        raise Failed(f"{run.evidence.count} contract violations: {run.evidence.summary()}", run.evidence.lines, stats)
    shown = ", ".join(f"{n} {k}" for k, n in kinds.items())
    cut = f" (time budget spent after {done} of {len(programs)} sequences)" if done < len(programs) else ""
    return Passed(f"{run.calls} calls in {done} sequences kept the contract ({shown}){cut}", stats)


class _FuzzRun:
    """The state of one fuzz run: what was seen, and how to check each call."""

    def __init__(self, ctx: CheckContext, connection: Connection, space: CallSpace) -> None:
        self.ctx = ctx
        self.connection = connection
        self.space = space
        self.evidence = Evidence()
        self.kinds: Counter[str] = Counter()
        self.succeeded: set[str] = set()
        self.calls = 0
        self.timeouts = 0
        self.seed_hash = ""
        self.hash_cheap = False
        self.seed_intact = True
        self.generated_at = time.monotonic()
        self.effects = {name: tool.effect for name, tool in ctx.spec.spec.tools.items()}
        self.outputs = {
            name: jsonschema.Draft202012Validator(tool.output_schema or {}) for name, tool in connection.tools.items()
        }
        self.collections = list(ctx.spec.spec.collections)

    async def start(self) -> None:
        fresh = self.connection.fresh("fuzz")
        began = time.perf_counter()
        self.seed_hash = await fresh.state_hash()
        self.hash_cheap = time.perf_counter() - began < _CHEAP_HASH
        for violation in await fresh.invariants():
            self.evidence.add(
                "invariant", f"the seed itself breaks invariant {violation['name']}: {violation['message']}"
            )

    async def program(self, number: int, program: list[Call]) -> None:
        session = self.connection.fresh("fuzz")
        changes = empty_changes(self.collections)
        before = canonical_json(changes)
        state_hash: str | None = self.seed_hash
        for call in program:
            arguments = self.space.resolve(call.arguments, changes)
            valid = self.space.validators[call.tool].is_valid(arguments)
            watch_hash = self.hash_cheap and self.effects[call.tool] == "read"
            if watch_hash and state_hash is None:
                state_hash = await session.state_hash()
            outcome = await session.call(call.tool, arguments)
            self.calls += 1
            self.kinds[outcome.kind if valid or outcome.kind != "invalid" else "invalid (meant)"] += 1
            if outcome.kind == "ok":
                self.succeeded.add(call.tool)
            if outcome.kind == "timeout":
                self.timeouts += 1
                self.evidence.add("hung call", f"{outcome.call_text()} did not return within {outcome.seconds:.0f} s")
                return
            self._check_outcome(outcome, valid)
            new_changes = await session.changes()
            after = canonical_json(new_changes)
            if after != before:
                await self._check_change(session, outcome, changes, new_changes)
                state_hash = None
            elif watch_hash:
                new_hash = await session.state_hash()
                if new_hash != state_hash:
                    self.evidence.add(
                        "read tool wrote", f"read tool {outcome.call_text()} changed the state hash (outside edit())"
                    )
                state_hash = new_hash
            changes, before = new_changes, after

    def _check_outcome(self, outcome: Outcome, valid: bool) -> None:
        bound = self.ctx.options.call_bound
        if outcome.cpu_seconds > bound:
            self.evidence.add(
                "slow call", f"{outcome.call_text()} used {outcome.cpu_seconds:.2f} s of CPU (bound {bound:.2f} s)"
            )
        if outcome.kind == "fault":
            self.evidence.add(f"fault in {outcome.tool}", outcome.describe())
        elif outcome.kind in ("malformed", "unknown_tool"):
            self.evidence.add("malformed result", outcome.describe())
        elif valid and outcome.kind == "invalid":
            self.evidence.add("valid arguments refused", f"{outcome.describe()} (the inputSchema accepts them)")
        elif not valid and outcome.kind != "invalid":
            self.evidence.add("invalid arguments accepted", f"{outcome.describe()} (the inputSchema rejects them)")
        if outcome.kind == "ok":
            validator = self.outputs.get(outcome.tool)
            if validator is not None and not validator.is_valid(outcome.structured):
                error = jsonschema.exceptions.best_match(validator.iter_errors(outcome.structured))
                where = "/".join(str(p) for p in error.absolute_path) if error is not None else ""
                message = error.message if error is not None else "invalid"
                self.evidence.add(
                    f"output schema ({outcome.tool})",
                    f"{outcome.call_text()} returned a result its outputSchema rejects at /{where}: {message[:160]}",
                )

    async def _check_change(self, session: Session, outcome: Outcome, old: dict[str, Any], new: dict[str, Any]) -> None:
        what = diff_changes(old, new)
        if self.effects[outcome.tool] == "read":
            self.evidence.add("read tool wrote", f"read tool {outcome.call_text()} changed the state: {what}")
        elif outcome.kind != "ok" and outcome.code != RETURNED_ERROR:  # a returned error keeps its writes
            self.evidence.add("failed call wrote", f"{outcome.describe()} left a change behind: {what}")
        for violation in await session.invariants():
            self.evidence.add(
                f"invariant {violation['name']}",
                f"after {outcome.call_text()}: invariant {violation['name']} broken: {violation['message']}",
            )

    async def check_seed(self, number: int) -> None:
        """A new session must still start from the seed: no call may have changed it for everyone."""
        if not self.seed_intact:
            return
        fresh = self.connection.fresh("fuzz")
        if await fresh.state_hash() == self.seed_hash:
            return
        self.seed_intact = False
        state = await fresh.full_state()
        what = diff_changes(state, self.ctx.spec.seed)
        self.evidence.add(
            "seed changed",
            f"after sequence #{number}, a new session no longer starts from the seed "
            f"(a body wrote to a record outside edit()): {what}",
        )
