"""The verifier's verdicts do not depend on machine load: the same catalog, idle and with every core saturated.

Runs `verify_envs` on the catalog twice in one command: once as the machine
is, once while 2 x cores busy-loop processes (`--hogs`) keep every core
saturated. Prints both verdict tables, the time each took, and whether every
environment's verdict and every check's status agree. The second run is
expected to be slower; it must not be different.

    python benchmarks/verify_under_load.py [ENV ...] [--hogs N] [--budget S]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from _common import REPO, machine, table

from mcpfactory.runtime import env_names
from mcpfactory.verify import Options, verify_envs


def _spin() -> None:
    while True:
        sum(range(10_000))


@contextmanager
def hogs(count: int) -> Iterator[None]:
    """`count` processes that burn CPU until the block ends."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_spin, daemon=True) for _ in range(count)]
    for process in processes:
        process.start()
    try:
        yield
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.join()


def _verdicts(envs: Sequence[str], budget: float) -> tuple[dict[str, tuple[str, ...]], float]:
    began = time.perf_counter()
    reports = verify_envs(list(envs), options=Options(budget=budget))
    verdicts = {
        r.env: ("verified" if r.ok else "quarantined", *(f"{c.name}:{c.status.value}" for c in r.checks))
        for r in reports
    }
    return verdicts, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("envs", nargs="*", help="environments (default: the whole catalog)")
    parser.add_argument(
        "--hogs", type=int, default=2 * (os.cpu_count() or 1), help="busy processes (default 2 x cores)"
    )
    parser.add_argument("--budget", type=float, default=60.0, help="verifier budget per environment")
    args = parser.parse_args(argv)
    os.chdir(REPO)
    envs = args.envs or env_names()
    print(machine())
    quiet, quiet_s = _verdicts(envs, args.budget)
    with hogs(args.hogs):
        busy, busy_s = _verdicts(envs, args.budget)
    rows = [[env, quiet[env][0], busy[env][0], "same" if quiet[env] == busy[env] else "DIFFERENT"] for env in envs]
    print(table(["environment", "as the machine is", f"with {args.hogs} CPU hogs", "checks"], rows))
    print(f"\nverify took {quiet_s:.0f} s, then {busy_s:.0f} s with the hogs ({busy_s / quiet_s:.1f}x)")
    differing = [env for env in envs if quiet[env] != busy[env]]
    print("verdicts identical" if not differing else f"verdicts differ for: {', '.join(differing)}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
