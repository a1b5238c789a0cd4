"""One judge: every entry point that judges a task (harness, verifier, synthesis) agrees on every catalog task.

For each task of the catalog, three runs are judged: the reference solution
with the oracle's answer, a silent agent, and half of the solution followed by
"Done.". Each run is played as a harness episode (its record says whether it
succeeded), replayed on a fresh session through the runtime's client, and
judged there by the runtime's judge, the verifier's task check and
synthesis's judge. All four must agree, run for run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from harness.connection import open_endpoint
from harness.conversation import AssistantTurn, ToolCall
from harness.episode import EpisodeJob, run_episode
from harness.policies.base import PolicyView
from harness.policies.oracle import oracle_answer
from harness.reward import ReferenceCache
from mcpfactory.runtime import Call, Run, RunCall, StateView, Task, catalog_tasks, judge, runnable_envs
from mcpfactory.synth._judge import judge_run
from mcpfactory.verify._strategies import Call as VerifyCall
from mcpfactory.verify.checks.tasks import _judge as verifier_judge
from mcpfactory.verify.checks.tasks import _Replay
from tests.conftest import CATALOG

ENVS = runnable_envs(CATALOG)


class Scripted:
    """A policy that makes the given calls, one per turn, then says `answer` (or nothing at all)."""

    name = "scripted"
    model = None

    def __init__(self, runs: dict[str, tuple[Sequence[Call], str | None]]) -> None:
        self.runs = runs

    async def act(self, view: PolicyView) -> AssistantTurn:
        calls, answer = self.runs[view.task.id]
        if view.turn < len(calls):
            call = calls[view.turn]
            return AssistantTurn(tool_calls=(ToolCall.make(f"c{view.turn}", call.tool, dict(call.arguments)),))
        return AssistantTurn(content=answer if answer is not None else " ")


def _runs(task: Task) -> list[tuple[str, Sequence[Call], str | None]]:
    half = task.solution[: len(task.solution) // 2]
    return [("oracle", task.solution, oracle_answer(task)), ("silent", (), None), ("half", half, "Done.")]


@pytest.mark.parametrize("env", ENVS)
async def test_every_entry_point_gives_the_same_verdict_on_every_task(env: str) -> None:
    tasks = catalog_tasks(env, CATALOG)
    disagreements: list[tuple[str, str, dict[str, Any]]] = []
    with anyio.fail_after(300):
        async with open_endpoint(env, "memory", catalog=CATALOG) as endpoint:
            references = ReferenceCache()
            for label in ("oracle", "silent", "half"):
                runs = {task.id: next((c, a) for name, c, a in _runs(task) if name == label) for task in tasks}
                policy = Scripted(runs)
                for task in tasks:
                    record = await run_episode(EpisodeJob(task), policy, endpoint, references=references)
                    calls, answer = runs[task.id]
                    async with endpoint.session() as connection:
                        reference = await references.get(task, connection)
                        seed = await endpoint.seed_state(connection)
                        await connection.reset(task.initial_state)
                        for call in calls:
                            await connection.call_tool(call.tool, call.arguments)
                        final = StateView(seed, await connection.snapshot("changes"))
                    said = [answer] if answer and answer.strip() else []
                    run = Run(final, said, [RunCall(c.tool, dict(c.arguments)) for c in calls])
                    verdicts = {
                        "harness": record["success"],
                        "runtime": judge(task, run, initial=reference.initial, reference=reference.final).passed,
                        "verifier": verifier_judge(
                            task,
                            final,
                            said,
                            [VerifyCall(c.tool, dict(c.arguments)) for c in calls],
                            reference.initial,
                            _Replay((), reference.final),
                        ).passed,
                        "synthesis": judge_run(
                            task.judge.to_json(),
                            changes=final.changes,
                            reference=reference.final.changes,
                            seed=seed,
                            answer="\n".join(said),
                        )
                        if task.initial_state is None
                        else None,
                    }
                    values = {value for value in verdicts.values() if value is not None}
                    if len(values) != 1:
                        disagreements.append((task.id, label, verdicts))
                    if label == "oracle" and values != {True}:
                        disagreements.append((task.id, "oracle must pass", verdicts))
    assert disagreements == []
