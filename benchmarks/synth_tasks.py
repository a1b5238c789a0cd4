"""Task synthesis without a model: speed, and how many sampled chains become valid, unique tasks.

    python benchmarks/synth_tasks.py                      # every catalog env with a server, 200 chains, 3 runs
    python benchmarks/synth_tasks.py --env hotel --chains 500 --runs 5

Each run is `synthesize_tasks(env, n=chains, max_chains=chains, seed=0)`:
every chain sampled is turned into a task candidate, checked on the
environment (replay, empty run, single-call perturbations) and deduplicated,
so `tasks / chains` is the yield. The time covers sampling, checking and
instruction templating (no model). The baseline beside the speed is the
verifier's own task check (`mcpfactory verify --check tasks`) on the tasks
just made: the time it takes to prove them, per task, in a fresh worker.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import anyio
from _common import machine, median, spread, table

from mcpfactory.catalog import catalog_root
from mcpfactory.compiler import compile_spec
from mcpfactory.synth import SynthReport, append_tasks, synthesize_tasks
from mcpfactory.verify import verify_env


def envs_with_servers() -> list[str]:
    root = catalog_root()
    return sorted(p.parent.name for p in root.glob("*/server.py") if (p.parent / "spec.yaml").exists())


def run(env: str, chains: int, seed: int) -> SynthReport:
    async def go() -> SynthReport:
        return await synthesize_tasks(catalog_root() / env, n=chains, max_chains=chains, seed=seed)

    return anyio.run(go)


def verify_seconds(env: str, report: SynthReport) -> float:
    """Seconds per task for the verifier's task check, on a scratch copy holding these tasks."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / env
        folder.mkdir()
        shutil.copy2(catalog_root() / env / "spec.yaml", folder / "spec.yaml")
        if (catalog_root() / env / "data").is_dir():
            shutil.copytree(catalog_root() / env / "data", folder / "data")
        compile_spec(folder / "spec.yaml")
        append_tasks(folder / "tasks.jsonl", report.tasks)
        verified = verify_env(folder, checks=["static", "tasks"], budget=600)
        check = verified.check("tasks")
        if not check.passed:
            print(f"  {env}: the verifier rejects synthesized tasks: {check.evidence[:3]}", file=sys.stderr)
        return check.seconds / max(1, len(report.tasks))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", action="append", help="environment (repeatable; default: every catalog env)")
    parser.add_argument("--chains", type=int, default=200, help="chains sampled per run (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per environment (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    envs = args.env or envs_with_servers()
    print(f"# Task synthesis, no model ({machine()})\n")
    print(f"{args.chains} chains per run, seed {args.seed}, median of {args.runs} runs.\n")
    speed_rows, yield_rows, reject_rows = [], [], []
    for env in envs:
        reports, seconds = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            reports.append(run(env, args.chains, args.seed))
            seconds.append(time.perf_counter() - started)
        report = reports[0]
        if any(r.tasks != report.tasks for r in reports):
            print(f"  {env}: runs with one seed differ (synthesis is not deterministic)", file=sys.stderr)
            return 1
        rates = [len(report.tasks) / s for s in seconds]
        per_task_verify = verify_seconds(env, report)
        speed_rows.append(
            [
                env,
                len(report.tasks),
                f"{median(rates):.1f}",
                spread(rates),
                f"{median(seconds) * 1000 / args.chains:.1f}",
                f"{1 / per_task_verify:.1f}" if per_task_verify else "-",
            ]
        )
        summary = report.to_json()
        difficulty = Counter(t["difficulty"] for t in report.tasks)
        kinds = Counter("write" if "write" in t["tags"] else "read" for t in report.tasks)
        lookups = sum(1 for t in report.tasks if "lookup" in t["tags"])
        yield_rows.append(
            [
                env,
                report.chains,
                len(report.tasks),
                f"{100 * len(report.tasks) / report.chains:.0f}%",
                report.duplicates,
                f"{difficulty['easy']}/{difficulty['medium']}/{difficulty['hard']}",
                f"{kinds['write']}/{kinds['read']}",
                lookups,
                f"{100 * summary['perturbations_failed'] / max(1, summary['perturbations']):.0f}%",
            ]
        )
        reject_rows.append([env, ", ".join(f"{k} {v}" for k, v in sorted(report.rejected.items())) or "none"])
    print("## Speed\n")
    print(
        table(
            ["env", "tasks", "tasks/s (median)", "IQR", "ms per chain", "baseline: tasks/s the verifier proves"],
            speed_rows,
        )
    )
    print("\n## Yield and labels\n")
    print(
        table(
            [
                "env",
                "chains",
                "valid unique tasks",
                "yield",
                "duplicates",
                "easy/medium/hard",
                "write/read",
                "with lookups",
                "perturbations failing the judge",
            ],
            yield_rows,
        )
    )
    print("\n## Why the other chains were dropped\n")
    print(table(["env", "rejected"], reject_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
