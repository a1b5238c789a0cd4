"""BFCL multi-turn through MCP: every task of the four categories, the ground truth and a bare answer, and
agreement with BFCL's own checker.

    python benchmarks/bfcl_multi_turn.py [--every N] [--json FILE]

Needs bfcl-eval 2026.3.23 (`pip install --no-deps bfcl-eval==2026.3.23 mpmath==1.3.0`). It

1. imports the four multi-turn categories from the installed package (`mcpfactory import bfcl`);
2. plays each task's ground truth through MCP (the oracle, the catalog's bfcl_* servers in memory,
   the runner and the judge by turns) and a bare answer ("Done, all taken care of.", no calls);
3. times, as the baseline in the same command, BFCL's own `multi_turn_checker` judging the same ground
   truth in process (its classes called directly: no MCP, no sessions), and gives the ratio;
4. feeds the trajectories of `mcpfactory.bfcl.PERTURBATIONS` (the ground truth, a silent agent, and
   perturbed or partial versions of the ground truth) to both judges and counts agreement twice: on
   the calls our harness ran (the judges alone), and with each harness running the trajectory its own
   way (ours turns a call whose arguments do not fit the schema back to the model; BFCL's executes it).

Times are this process's CPU time (everything runs in it). It exits 1 when the ground truth fails a
task or the bare answer passes one; disagreements are listed, not fatal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
from _common import REPO, machine, table

from harness.env import EpisodeConfig
from harness.policies import OraclePolicy, Policy, TrivialPolicy
from harness.runner import RunConfig, Runner
from mcpfactory.bfcl import (
    CATEGORIES,
    CLASS_ENVS,
    PERTURBATIONS,
    BFCLChecker,
    BFCLSource,
    bfcl_task,
    crosscheck,
    tool_parameters,
)
from mcpfactory.runtime import Task, parse_task

CATALOG = REPO / "servers"


def _run(policy: Policy, tasks: list[Task]) -> tuple[list[dict[str, Any]], float]:
    runner = Runner(policy, RunConfig(concurrency=8, episode=EpisodeConfig(max_turns=200)), catalog=CATALOG)
    started = time.process_time()
    summary = anyio.run(runner.run, tasks)
    return summary.records, time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=1, help="take every N-th task of each category (default: all)")
    parser.add_argument("--json", help="also write the figures and every disagreement as JSON to this file")
    args = parser.parse_args(argv)
    source = BFCLSource()
    tools = tool_parameters(CLASS_ENVS.values(), CATALOG)
    entries = [entry for category in CATEGORIES for entry in source.entries(category)[:: args.every]]
    tasks = [parse_task(bfcl_task(e, tools, source.added_functions_prompt, source.stateless)) for e in entries]
    pairs = list(zip(entries, tasks, strict=True))
    print(f"{len(tasks)} tasks from bfcl-eval {source.version}; {machine()}\n")

    oracle, oracle_s = _run(OraclePolicy(), tasks)
    bare, bare_s = _run(TrivialPolicy("bare-done"), tasks)
    checker = BFCLChecker(source)
    started = time.process_time()
    for entry, task in pairs:
        # BFCL's checker as BFCL's harness runs it, one entry after another without module reloads.
        checker.check(entry, task.solution, fresh=False)
    baseline_s = time.process_time() - started
    rows = []
    for category in CATEGORIES:
        ids = {task.id for task in tasks if task.tags[1] == category}
        ok = sum(1 for r in oracle if r["task"] in ids and r["success"])
        fooled = sum(1 for r in bare if r["task"] in ids and r["success"])
        rows.append([category, len(ids), f"{ok}/{len(ids)}", f"{fooled}/{len(ids)}"])
    rows.append(
        [
            "all",
            len(tasks),
            f"{sum(1 for r in oracle if r['success'])}/{len(tasks)}",
            f"{sum(1 for r in bare if r['success'])}/{len(tasks)}",
        ]
    )
    print(table(["category", "tasks", "ground truth passes", "bare answer passes"], rows))
    print()
    print(
        table(
            ["run", "CPU s", "ms per task"],
            [
                ["ground truth through MCP (ours)", f"{oracle_s:.1f}", f"{1000 * oracle_s / len(tasks):.1f}"],
                ["bare answer through MCP (ours)", f"{bare_s:.1f}", f"{1000 * bare_s / len(tasks):.1f}"],
                [
                    "BFCL's checker on the ground truth (baseline)",
                    f"{baseline_s:.1f}",
                    f"{1000 * baseline_s / len(tasks):.1f}",
                ],
            ],
        )
    )
    print(f"\nground truth through MCP / BFCL's checker in process: {oracle_s / baseline_s:.1f}x\n")

    started = time.process_time()
    comparisons = anyio.run(lambda: crosscheck(pairs, checker=checker, catalog=CATALOG))
    crosscheck_s = time.process_time() - started
    rows = []
    for kind in PERTURBATIONS:
        mine = [c for c in comparisons if c.kind == kind]
        rows.append(
            [
                kind,
                len(mine),
                sum(1 for c in mine if c.ours and c.theirs),
                sum(1 for c in mine if c.ours is False and not c.theirs),
                sum(1 for c in mine if not c.judges_agree),
                sum(1 for c in mine if not c.agree),
            ]
        )
    agree = sum(1 for c in comparisons if c.agree)
    judges = sum(1 for c in comparisons if c.judges_agree)
    rows.append(["all", len(comparisons), *(sum(int(r[k]) for r in rows) for k in range(2, 6))])
    print(table(["trajectory", "judged", "both pass", "both fail", "judges differ", "harnesses differ"], rows))
    print(
        f"\njudges agree on the same executed calls: {judges}/{len(comparisons)} ({judges / len(comparisons):.2%}); "
        f"each harness running the trajectory its own way: {agree}/{len(comparisons)} ({agree / len(comparisons):.2%}); "
        f"{crosscheck_s:.0f} CPU s"
    )
    disagreements = [c.to_json() for c in comparisons if not c.agree or not c.judges_agree]
    for item in [c.to_json() for c in comparisons if not c.judges_agree][:20]:
        print("  judges differ:", json.dumps(item)[:400])
    causes = Counter((c.kind, c.refused > 0) for c in comparisons if not c.agree)
    for (kind, refused), count in sorted(causes.items()):
        print(f"  harnesses differ: {count} {kind} trajectories{' (ours refused a malformed call)' if refused else ''}")
    if args.json:
        figures = {
            "tasks": len(tasks),
            "ground_truth_passes": sum(1 for r in oracle if r["success"]),
            "bare_answer_passes": sum(1 for r in bare if r["success"]),
            "cpu_s": {"ground_truth": oracle_s, "bare_answer": bare_s, "bfcl_checker": baseline_s},
            "comparisons": len(comparisons),
            "judges_agree": judges,
            "harnesses_agree": agree,
            "disagreements": disagreements,
        }
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    failed = [r["task"] for r in oracle if not r["success"]] + [r["task"] for r in bare if r["success"]]
    if failed:
        print(f"FAILED: the ground truth fails or a bare answer passes: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
