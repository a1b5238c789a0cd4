"""Helpers shared by the benchmark scripts: paths, the machine line, tables."""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
GOLDEN_DIR = REPO / "tests" / "mcpfactory"

# The scripts run as `python benchmarks/NAME.py`, which puts benchmarks/ (not the
# repo root) on sys.path; the golden servers import as `golden.<name>`.
for _path in (str(REPO), str(GOLDEN_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


def golden(name: str) -> ModuleType:
    """Import the generated server module of the golden spec `name` (`golden.<name>.server`)."""
    return importlib.import_module(f"golden.{name}.server")


def machine() -> str:
    """Describe where the figures come from: date, cores, CPU, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{datetime.date.today().isoformat()}, {cores} cores ({cpu}{load}), Python {platform.python_version()}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    """The interquartile range as `lo-hi`, to show how noisy a median is."""
    if len(values) < 4:
        return f"{min(values):.3g}-{max(values):.3g}"
    q = statistics.quantiles(values, n=4)
    return f"{q[0]:.3g}-{q[2]:.3g}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Format rows as a Markdown table (numbers right-aligned)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True))
            + " |"
        )

    rule = (
        "| " + " | ".join(("-" * (w - 1) + ":") if n else "-" * w for w, n in zip(widths, numeric, strict=True)) + " |"
    )
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _is_number(text: str) -> bool:
    if not text:
        return True  # an empty cell does not make a column text
    cleaned = text.replace(",", "").replace("x", "").replace("%", "").strip()
    try:
        float(cleaned)
    except ValueError:
        return False
    return True
