"""Oracle episodes per second through the harness, in memory, against a tau-bench-style baseline.

The environment is the richest catalog environment with tasks (tau_retail
when compiled; `--env` to choose). Per episode:

  harness     `Runner` with the oracle policy over the in-memory MCP transport:
              `_control_reset` to the task's initial state, `tools/list` (cached),
              the reference calls through MCP, a `changes` snapshot, scoring
              (reference replays cached per task, as in a real run);
  baseline    what tau-bench does per episode, at its cheapest: reload the state
              (`copy.deepcopy` of the seed JSON) and call the tools as plain Python
              functions (`env.call`, the same tool bodies, no MCP);
  tau-bench   the baseline plus tau-bench's reward step: a second reload, a replay
              of the reference calls, and a hash of the whole data for each side.

Rates use CPU time of this process (steadier than wall time on a shared
machine; the in-memory work is single-threaded), wall-clock rates are shown
beside them. A second part runs 1,000 episodes at once (concurrency 1,000) and
reports their wall time and the peak RSS growth.

    python benchmarks/harness_throughput.py [--env ENV] [--rounds N] [--concurrency C] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import resource
import time
from collections.abc import Callable
from typing import Any

import anyio
from _common import REPO, machine, median

from harness.connection import open_endpoint
from harness.policies import OraclePolicy
from harness.runner import RunConfig, Runner
from mcpfactory.runtime import Task, catalog_tasks, runnable_envs

CATALOG = REPO / "servers"


def richest_env() -> str:
    envs = runnable_envs(CATALOG)
    if "tau_retail" in envs:
        return "tau_retail"
    return max(envs, key=lambda env: sum(p.stat().st_size for p in (CATALOG / env / "data").glob("*.json")))


def seed_json(env: str) -> dict[str, Any]:
    """The seed state as plain JSON (what tau-bench's `load_data` returns)."""
    module = __import__(f"servers.{env}.server", fromlist=["env"])
    return json.loads(json.dumps(module.env.seed_state()))


def timed(run: Callable[[], Any]) -> tuple[float, float]:
    """Return (CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


def baseline(env: str, tasks: list[Task], *, tau_bench: bool) -> Callable[[], None]:
    module = __import__(f"servers.{env}.server", fromlist=["env"])
    runtime = module.env
    data = seed_json(env)

    def replay(task: Task) -> None:
        session = runtime.new_session()
        for call in task.solution:
            runtime.call(session, call.tool, dict(call.arguments))

    def run() -> None:
        for task in tasks:
            state = copy.deepcopy(data)  # tau-bench reloads the data for every episode
            replay(task)
            if tau_bench:
                hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
                reference = copy.deepcopy(data)  # and again for the ground-truth replay
                replay(task)
                hashlib.sha256(json.dumps(reference, sort_keys=True).encode()).hexdigest()

    return run


def harness_rounds(env: str, tasks: list[Task], rounds: int, concurrency: int) -> list[tuple[float, float]]:
    times: list[tuple[float, float]] = []

    async def main() -> None:
        async with open_endpoint(env, "memory", catalog=CATALOG) as endpoint:
            runner = Runner(OraclePolicy(), RunConfig(concurrency=concurrency), endpoints={env: endpoint})
            summary = await runner.run(tasks)  # warm-up: imports, reference replays, seed
            assert summary.success_rate == 1.0, summary.to_json()
            for _ in range(rounds):
                cpu, wall = time.process_time(), time.perf_counter()
                await runner.run(tasks)
                times.append((time.process_time() - cpu, time.perf_counter() - wall))

    anyio.run(main)
    return times


def reset_cost(env: str, count: int = 50) -> float:
    """Milliseconds of CPU per `_control_reset` call (O(the task's patch), whatever the seed size)."""

    async def main() -> float:
        async with open_endpoint(env, "memory", catalog=CATALOG) as endpoint, endpoint.session() as connection:
            await connection.reset()
            cpu = time.process_time()
            for _ in range(count):
                await connection.reset()
            return (time.process_time() - cpu) / count * 1e3

    return anyio.run(main)


def thousand_at_once(env: str, tasks: list[Task]) -> tuple[int, float, float, float]:
    """Episodes, wall seconds, CPU seconds and peak-RSS growth (MiB) of ~1,000 concurrent episodes.

    GRPO-shaped: up to 100 tasks with as many samples each as make 1,000 episodes, all in flight at once.
    """
    chosen = tasks[:100]
    samples = -(-1000 // len(chosen))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    episodes = 0

    async def main() -> None:
        nonlocal episodes
        config = RunConfig(concurrency=1000, samples=samples)
        summary = await Runner(OraclePolicy(), config, catalog=CATALOG, keep_records=False).run(chosen)
        assert summary.success_rate == 1.0, summary.to_json()
        episodes = summary.episodes

    cpu, wall = timed(lambda: anyio.run(main))
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return episodes, wall, cpu, grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", help="catalog environment (default: tau_retail, else the one with most seed data)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="2 rounds, no 1,000-episode part")
    args = parser.parse_args()
    env = args.env or richest_env()
    rounds = 2 if args.quick else args.rounds
    tasks = catalog_tasks(env, CATALOG)
    data_mb = sum(p.stat().st_size for p in (CATALOG / env / "data").glob("*.json")) / 2**20
    print(f"# harness throughput: {machine()}")
    print(f"environment {env}: {len(tasks)} tasks, {data_mb:.1f} MiB of seed JSON, concurrency {args.concurrency}")

    ours = harness_rounds(env, tasks, rounds, args.concurrency)
    minimal = [timed(baseline(env, tasks, tau_bench=False)) for _ in range(rounds)]
    full = [timed(baseline(env, tasks, tau_bench=True)) for _ in range(rounds)]

    def rate(times: list[tuple[float, float]], index: int) -> float:
        return len(tasks) / median([t[index] for t in times])

    rows = [
        ("harness (MCP, in memory)", ours),
        ("baseline: reload + plain calls", minimal),
        ("tau-bench: + reward step", full),
    ]
    print(f"{'':<34} {'episodes/s (CPU)':>17} {'episodes/s (wall)':>18} {'ms/episode (CPU)':>17}")
    for name, times in rows:
        print(f"{name:<34} {rate(times, 0):>17.1f} {rate(times, 1):>18.1f} {1e3 / rate(times, 0):>17.2f}")
    print(
        f"ratio harness / baseline:  {rate(ours, 0) / rate(minimal, 0):.1f}x (CPU), {rate(ours, 1) / rate(minimal, 1):.1f}x (wall)"
    )
    print(
        f"ratio harness / tau-bench: {rate(ours, 0) / rate(full, 0):.1f}x (CPU), {rate(ours, 1) / rate(full, 1):.1f}x (wall)"
    )
    reset = reset_cost(env)
    print(f"of which the server's _control_reset: {reset:.2f} ms CPU per episode")
    if not args.quick:
        episodes, wall, cpu, grown = thousand_at_once(env, tasks)
        print(
            f"{episodes:,} concurrent episodes in one process: {wall:.2f} s wall, {cpu:.2f} s CPU "
            f"({episodes / wall:.0f} episodes/s), peak RSS +{grown:.0f} MiB"
        )


if __name__ == "__main__":
    main()
