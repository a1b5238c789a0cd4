"""Task synthesis without a model, judged against the policy: whose records each task touches, and
whether a trivial agent earns its reward.

    python benchmarks/synth_policy.py                         # hotel and bank, seeds 0 and 1, 50 tasks each
    python benchmarks/synth_policy.py --n 10 --seeds 0        # a smoke run
    python benchmarks/synth_policy.py --no-gate               # without the verifier's gate inside synthesis

Each run is what `mcpfactory synth tasks ENV --n N --seed S --dry-run` does
(the catalog's tasks.jsonl as the tasks already there). Then, for the new
tasks only:

- *break the policy*: the reference solution, replayed, names or changes a
  record of anyone but the user it identified, or takes an id the user was
  never shown (or one the task itself created); judged by the hand-written
  ownership rules of `tests/synth/policy_check.py`, not by the synthesiser;
- *trivial agent passes*: the verifier's `tasks` check (silent, a generic
  refusal, a bare "done", tool spam, random calls) on a copy of the
  environment holding the catalog's tasks and the new ones, counting the new
  tasks it says a trivial agent passes.

Not a timing benchmark: the seconds are printed only to size a run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
from _common import machine, table

from mcpfactory.catalog import catalog_root
from mcpfactory.synth import SynthReport, append_tasks, read_tasks, synthesize_tasks
from mcpfactory.verify import verify_env
from tests.synth.policy_check import RULES, problems

_TRIVIAL = re.compile(r": task (\S+): the trivial agent '([^']+)' passes it")


def synthesize(env: str, n: int, seed: int, gate: bool) -> SynthReport:
    existing = read_tasks(catalog_root() / env / "tasks.jsonl")

    async def go() -> SynthReport:
        return await synthesize_tasks(catalog_root() / env, n=n, seed=seed, existing=existing, verify=gate)

    return anyio.run(go)


def policy_breaks(env: str, tasks: list[dict[str, Any]]) -> list[str]:
    """One line per problem, over all tasks (a task may have several)."""

    async def go() -> list[str]:
        found: list[str] = []
        for task in tasks:
            found += await problems(env, task)
        return found

    return anyio.run(go)


def trivial_passes(env: str, tasks: list[dict[str, Any]]) -> Counter[str]:
    """Per trivial agent, how many of `tasks` the verifier says it passes (in the file beside the catalog's)."""
    ours = {t["id"] for t in tasks}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / env
        folder.mkdir()
        shutil.copy2(catalog_root() / env / "spec.yaml", folder / "spec.yaml")
        if (catalog_root() / env / "data").is_dir():
            shutil.copytree(catalog_root() / env / "data", folder / "data")
        append_tasks(folder / "tasks.jsonl", read_tasks(catalog_root() / env / "tasks.jsonl"))
        append_tasks(folder / "tasks.jsonl", tasks)
        check = verify_env(folder / "spec.yaml", checks=["static", "tasks"], budget=1200).check("tasks")
    stats = check.stats or {}
    if stats.get("checked") != stats.get("tasks"):
        raise SystemExit(f"{env}: the verifier checked {stats.get('checked')} of {stats.get('tasks')} tasks")
    found: Counter[str] = Counter()
    for line in check.evidence:
        match = _TRIVIAL.search(line)
        if match and match.group(1) in ours:
            found[match.group(2)] += 1
    shown = sum(1 for line in check.evidence if "trivial agent" in line)
    total = re.search(r"(\d+) x trivial agent passes", check.summary or "")
    if total and int(total.group(1)) > shown:
        raise SystemExit(f"{env}: more trivial-agent findings than the verifier lists; rerun with fewer tasks")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", action="append", choices=sorted(RULES), help="default: hotel and bank")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--no-gate", action="store_true", help="synthesise without the verifier's gate")
    args = parser.parse_args()
    print(machine())
    rows = []
    totals: Counter[str] = Counter()
    for env in args.env or sorted(RULES):
        for seed in args.seeds:
            started = time.monotonic()
            report = synthesize(env, args.n, seed, gate=not args.no_gate)
            seconds = time.monotonic() - started
            lines = policy_breaks(env, report.tasks)
            breaking = {line.split(":", 1)[0] for line in lines}
            trivial = trivial_passes(env, report.tasks)
            passed = sum(trivial.values())
            rows.append(
                [
                    env,
                    str(seed),
                    str(len(report.tasks)),
                    str(report.refusals),
                    str(len(breaking)),
                    str(passed) + (f" ({', '.join(f'{a} {c}' for a, c in sorted(trivial.items()))})" if passed else ""),
                    f"{seconds:.0f}",
                ]
            )
            totals.update(tasks=len(report.tasks), breaking=len(breaking), trivial=passed)
            for line in lines[:5]:
                print(f"  {line}")
    print()
    print(table(["env", "seed", "tasks", "refusals", "break the policy", "trivial agent passes", "s"], rows))
    print()
    print(
        f"all: {totals['breaking']} of {totals['tasks']} tasks break the policy; "
        f"a trivial agent passes {totals['trivial']} of {totals['tasks']}"
    )


if __name__ == "__main__":
    main()
