"""`mcpfactory verify`: run the checks on environments, print a table, record the verified manifest."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["register"]

_EVIDENCE_SHOWN = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `verify` subcommand."""
    from mcpfactory.verify._runner import DEFAULT_BUDGET
    from mcpfactory.verify.checks import CHECKS

    p = subparsers.add_parser(
        "verify",
        help="prove environments behave as their specs say; quarantine those that do not",
        description="Run the verifier's checks on each environment (all of servers/ by default), in parallel.",
    )
    p.add_argument("envs", nargs="*", metavar="ENV", help="catalog environment names, or spec files or folders")
    p.add_argument("--json", metavar="FILE", help="also write the reports as JSON to FILE")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument(
        "--budget", type=float, default=DEFAULT_BUDGET, metavar="SECONDS",
        help=f"time budget per environment (default {DEFAULT_BUDGET:.0f})",
    )  # fmt: skip
    p.add_argument("--jobs", type=int, default=None, help="environments verified at once (default: one per CPU)")
    p.add_argument(
        "--check", action="append", choices=list(CHECKS), metavar="NAME",
        help=f"run only this check (repeatable; static always runs): {', '.join(CHECKS)}",
    )  # fmt: skip
    p.add_argument("--no-manifest", action="store_true", help="do not update servers/verified.json")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    """Verify, print, record; return 0 only if every environment passed."""
    from mcpfactory.catalog import env_names
    from mcpfactory.verify._manifest import VERIFIER_VERSION, record_reports
    from mcpfactory.verify._runner import verify_envs
    from mcpfactory.verify._target import locate
    from mcpfactory.verify.checks import Options

    targets: list[str] = list(args.envs) or env_names()
    if not targets:
        print("mcpfactory verify: no environments to verify", file=sys.stderr)
        return 1
    catalog = {t for t in targets if locate(t).catalog_env is not None}
    options = Options(seed=args.seed, budget=args.budget)
    reports = verify_envs(targets, options=options, checks=args.check, jobs=args.jobs)
    _render(reports)
    if args.json:
        payload = {"verifier_version": VERIFIER_VERSION, "reports": [r.to_json() for r in reports]}
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if not args.no_manifest and not args.check:
        recorded = [r for r in reports if r.target in catalog]
        if recorded:
            path = record_reports(recorded)
            print(f"manifest: {path}")
    failed = [r.env for r in reports if not r.ok]
    print(f"{len(reports) - len(failed)} of {len(reports)} environments verified" + (
        f"; quarantined: {', '.join(failed)}" if failed else ""
    ))  # fmt: skip
    return 1 if failed else 0


def _render(reports: Sequence[Any]) -> None:
    """Print one row per check: rich's table when rich is installed, plain text otherwise."""
    rows = []
    for report in reports:
        for check in report.checks:
            details = check.summary
            shown = list(check.evidence[:_EVIDENCE_SHOWN]) if check.status.value == "failed" else []
            if len(check.evidence) > _EVIDENCE_SHOWN and shown:
                shown.append(f"… {len(check.evidence) - _EVIDENCE_SHOWN} more (--json for all)")
            rows.append((report.target, check.name, check.status.value, f"{check.seconds:.2f}s", details, shown))
    try:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table
    except ImportError:
        for env, name, status, seconds, details, shown in rows:
            print(f"{env:16} {name:12} {status:8} {seconds:>7}  {details}")
            for line in shown:
                print(f"{'':47}- {line}")
        return
    colours = {"passed": "green", "failed": "bold red", "skipped": "yellow"}
    table = Table(show_lines=False)
    for column in ("environment", "check", "status", "time", "details"):
        table.add_column(column, justify="right" if column == "time" else "left", overflow="fold")
    for env, name, status, seconds, details, shown in rows:
        text = escape(details) + "".join(f"\n  - {escape(line)}" for line in shown)
        table.add_row(env, name, f"[{colours[status]}]{status}[/]", seconds, text)
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console.width = 160
    console.print(table)
