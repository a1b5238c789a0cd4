"""What the gym costs per episode against the runner's own loop, on the same catalog tasks and turns.

Every side plays the `todo` tasks' reference solutions (one call per turn,
then the answer the judge needs), in memory, one episode at a time:

  runner     `Runner(OraclePolicy())`, one episode at a time: the harness's loop (the baseline);
  gym        `Gym.episode` driven with OpenAI-format message dicts (what a
             sampler written against the step-wise API does);
  blocking   `BlockingGym.open` from this thread, each step crossing to the
             gym's event-loop thread (what the TRL, SkyRL-gym and OpenEnv
             adapters do on every tool call), one gym kept for the whole
             benchmark, as the adapters keep theirs.

Each figure is the median over rounds of the wall time per episode (the
blocking side crosses threads, so CPU time of one thread would miss part of
it); sides alternate ABBA between rounds, and each round's ratio to the
runner is taken before the median. Every episode must score 1.0.

    python benchmarks/gym_overhead.py [--rounds R]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import anyio
from _common import machine, median, spread, table

from harness.gym import BlockingGym, Gym
from harness.policies import OraclePolicy
from harness.policies.oracle import oracle_answer
from harness.runner import RunConfig, Runner
from mcpfactory.runtime import Task, catalog_tasks


def turns(task: Task) -> list[dict[str, Any]]:
    """The oracle's turns as OpenAI-format messages: one call per turn, then the answer."""
    out: list[dict[str, Any]] = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": f"c{i}", "type": "function", "function": {"name": step.tool, "arguments": dict(step.arguments)}}
            ],
        }
        for i, step in enumerate(task.solution)
    ]
    out.append({"role": "assistant", "content": oracle_answer(task)})
    return out


async def runner_side(tasks: list[Task]) -> float:
    started = time.perf_counter()
    summary = await Runner(OraclePolicy(), RunConfig(concurrency=1), keep_records=True).run(tasks)
    elapsed = time.perf_counter() - started
    assert summary.success_rate == 1.0, summary.to_json()
    return elapsed / len(tasks)


async def gym_side(tasks: list[Task], scripts: dict[str, list[dict[str, Any]]]) -> float:
    started = time.perf_counter()
    async with Gym() as gym:  # opens its endpoint in the timing, as each runner run does
        for task in tasks:
            async with gym.episode("todo", task) as episode:
                for message in scripts[task.id]:
                    await episode.step(message)
                assert episode.reward == 1.0, (task.id, episode.env.termination)
        return (time.perf_counter() - started) / len(tasks)


def blocking_side(gym: BlockingGym, tasks: list[Task], scripts: dict[str, list[dict[str, Any]]]) -> float:
    started = time.perf_counter()
    for task in tasks:
        episode = gym.open("todo", task)
        for message in scripts[task.id]:
            episode.step(message)
        assert episode.reward == 1.0, (task.id, episode.env.termination)
        episode.close()
    return (time.perf_counter() - started) / len(tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    tasks = [task for task in catalog_tasks("todo") if task.solution]
    scripts = {task.id: turns(task) for task in tasks}
    times: dict[str, list[float]] = {"runner": [], "gym": [], "blocking": []}
    with BlockingGym() as gym:
        blocking_side(gym, tasks[:2], scripts)  # warm: the endpoint, the reference replays
        anyio.run(runner_side, tasks[:2])
        for round_ in range(args.rounds):
            order = ["runner", "gym", "blocking"] if round_ % 2 == 0 else ["blocking", "gym", "runner"]
            for side in order:
                if side == "runner":
                    times[side].append(anyio.run(runner_side, tasks))
                elif side == "gym":
                    times[side].append(anyio.run(gym_side, tasks, scripts))
                else:
                    times[side].append(blocking_side(gym, tasks, scripts))
    base = times["runner"]
    rows = [
        [
            side,
            f"{median(values) * 1000:.2f}",
            spread([v * 1000 for v in values]),
            f"{median([v / b for v, b in zip(values, base, strict=True)]):.2f}x",
        ]
        for side, values in times.items()
    ]
    print(f"{machine()}; todo, {len(tasks)} tasks per side per round, {args.rounds} rounds, wall time\n")
    print(table(["side", "ms/episode (median)", "IQR", "vs runner"], rows))


if __name__ == "__main__":
    main()
