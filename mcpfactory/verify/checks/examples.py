"""examples: every tool example gives its expected result or its expected domain error."""

from __future__ import annotations

from mcpfactory.verify._runs import json_difference
from mcpfactory.verify.checks._base import CheckContext, Evidence, Failed, Passed, Skipped

__all__ = ["examples_hold"]


async def examples_hold(ctx: CheckContext) -> Passed:
    """Prove each example, run on a fresh session after its `before` calls, answers exactly as it says."""
    spec = ctx.spec.spec
    total = sum(len(tool.examples) for tool in spec.tools.values())
    if not total:
        raise Skipped("the spec has no examples")
    evidence = Evidence()
    async with ctx.memory() as connection:
        for name, tool in spec.tools.items():
            for index, example in enumerate(tool.examples):
                where = f"tools.{name}.examples.{index}"
                session = connection.fresh("example")
                setup_ok = True
                for call in example.before:
                    outcome = await session.call(call.tool, call.args)
                    if outcome.kind not in ("ok", "error"):
                        evidence.add("setup failed", f"{where}: before-call {outcome.describe()}")
                        setup_ok = False
                        break
                if not setup_ok:
                    continue
                outcome = await session.call(name, example.args)
                if example.error is not None:
                    if outcome.kind != "error" or outcome.code != example.error:
                        evidence.add(
                            "wrong outcome", f"{where}: expected error {example.error}, got {outcome.describe()}"
                        )
                elif outcome.kind != "ok":
                    evidence.add("wrong outcome", f"{where}: expected a result, got {outcome.describe()}")
                elif (difference := json_difference(outcome.value, example.returns)) is not None:
                    evidence.add("wrong result", f"{where}: {name} returned something else at {difference}")
    if evidence:
        raise Failed(f"{evidence.count} of {total} examples do not hold", evidence.lines)
    return Passed(f"all {total} examples hold", {"examples": total})
