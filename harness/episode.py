"""The episode: one task, one policy, one fresh session: `TaskEnv`'s loop with a `Policy` as the sampler.

```
reset the session to the task's initial state -> the user's opening line, the tools
loop:  model turn -> env.step(turn): each tool call validated, run under a deadline,
       its result appended; an answer goes to the simulated user (if any)
until: the user ends the conversation, the turn limit, a deadline, or a fault
judge the final state and the conversation against the task (the one judge)
```

The policy bounds each of its own model calls (`EpisodeConfig.model_timeout`
is the deadline of one attempt, and its retries get their own); a policy
that produces no turn ends the episode as `model_error`, a fault that is
counted and reported, never scored (see `harness.env` for every reason).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from harness.connection import Endpoint
from harness.env import FAULT_TERMINATIONS, EpisodeConfig, TaskEnv, Termination
from harness.errors import ContextLengthExceeded, InfraError, MalformedOutput, ModelError, TaskError
from harness.policies.base import Policy, PolicyView
from harness.records import episode_id
from harness.reward import ReferenceCache
from harness.user import UserSimulator
from mcpfactory.runtime import Task

__all__ = ["FAULT_TERMINATIONS", "EpisodeConfig", "EpisodeJob", "Termination", "run_episode"]


@dataclass(frozen=True, slots=True)
class EpisodeJob:
    """One episode to run: a task, which sample of its group, and the seed the policy draws from."""

    task: Task
    sample: int = 0
    seed: int = 0

    @property
    def episode_id(self) -> str:
        return episode_id(self.task.env, self.task.id, self.sample)

    @property
    def group_id(self) -> str:
        """The episode's GRPO group: every sample of one task."""
        return f"{self.task.env}/{self.task.id}"


async def run_episode(
    job: EpisodeJob,
    policy: Policy,
    endpoint: Endpoint | Mapping[str, Endpoint],
    *,
    config: EpisodeConfig | None = None,
    references: ReferenceCache | None = None,
    attempt: int = 1,
    user: UserSimulator | None = None,
) -> dict[str, Any]:
    """Run one episode on sessions lent by its endpoints; return its record (never raises for episode failures).

    `endpoint` is the task's environment's endpoint, or a mapping from each
    environment the task uses to its endpoint.

    The session is returned to the endpoint whatever happens (cancellation
    included); a session whose state is in doubt (a dropped connection, a
    call abandoned at its deadline) is discarded, not lent again.
    """
    config = config or EpisodeConfig()
    try:
        env = TaskEnv(
            endpoint,
            job.task,
            seed=job.seed,
            sample=job.sample,
            config=config,
            references=references,
            user=user,
            attempt=attempt,
        )
    except TaskError as exc:
        return _unrunnable(job, policy, exc)
    async with env:
        try:
            await env.reset()
        except TaskError as exc:
            env.end(Termination.TASK_ERROR, str(exc))
        except (InfraError, TimeoutError) as exc:
            env.end(Termination.INFRA_ERROR, str(exc))
        else:
            while not env.done:
                view = PolicyView(
                    task=job.task,
                    messages=list(env.messages),
                    tools=env.tools,
                    turn=env.turns,
                    seed=job.seed,
                    results=list(env.results),
                    episode_id=job.episode_id,
                    interactive=env.user is not None,
                )
                started = time.perf_counter()
                try:
                    with anyio.fail_after(env.time_left()):
                        turn = await policy.act(view)
                except TimeoutError:
                    env.end(Termination.TIMEOUT, f"the episode passed its {config.episode_timeout} s deadline")
                except ContextLengthExceeded as exc:
                    env.end(Termination.TRUNCATED, str(exc))
                except ModelError as exc:
                    env.end(Termination.MODEL_ERROR, str(exc))
                except MalformedOutput as exc:
                    env.end(Termination.MALFORMED_OUTPUT, str(exc))
                else:
                    env.note_model_call(turn, started)
                    await env.step(turn)
            await env.finish()
    return env.record(policy=_policy_json(policy), episode_id=job.episode_id, sampler=_sampler(policy))


def _unrunnable(job: EpisodeJob, policy: Policy, error: TaskError) -> dict[str, Any]:
    """The record of an episode that could not start: the task names an environment it was not given."""
    return {
        "episode_id": job.episode_id,
        "env": job.task.env,
        "task": job.task.id,
        "sample": job.sample,
        "seed": job.seed,
        "policy": _policy_json(policy),
        "termination": str(Termination.TASK_ERROR),
        "termination_detail": str(error),
        "fault": True,
        "reward": 0.0,
        "success": None,
        "messages": [],
        "calls": [],
        "tags": list(job.task.tags),
        "refusal": job.task.refusal,
        "infra_failures": [],
    }


def _policy_json(policy: Policy) -> dict[str, Any]:
    return {"name": policy.name, "model": policy.model}


def _sampler(policy: Policy) -> Mapping[str, Any] | None:
    sampler = getattr(policy, "sampler", None)
    return sampler() if callable(sampler) else None
