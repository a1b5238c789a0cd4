"""How long full verification of a ~15-tool environment takes with the default budget, check by check.

    python benchmarks/verify_speed.py                   # tau_retail or hotel if they verify, else the shop fixture
    python benchmarks/verify_speed.py --env hotel --runs 5
    python benchmarks/verify_speed.py --orders 6000     # the shop fixture with a bigger seed

Each run is `mcpfactory.verify.verify_env(target)`: a fresh worker process, all
seven checks, the default budget (what `mcpfactory verify ENV` does). The
target of issue 3 is < 15 s per environment on a 2-core machine; the baseline
beside each figure is that target. The last table verifies two environments at
once, one worker at a time and then two, to show what parallel workers buy.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, machine, median, spread

from mcpfactory.catalog import catalog_root
from mcpfactory.errors import MCPFactoryError
from mcpfactory.spec import load_spec
from mcpfactory.verify import CHECK_NAMES, DEFAULT_BUDGET, Options, verify_env, verify_envs

TARGET_SECONDS = 15.0
SHOP = REPO / "tests" / "verify" / "fixtures" / "shop"


def catalog_target() -> str | None:
    """tau_retail, else hotel: the first that loads and whose committed server is current."""
    from mcpfactory.compiler import check_spec

    for env in ("tau_retail", "hotel"):
        spec = catalog_root() / env / "spec.yaml"
        try:
            load_spec(spec)
            if not check_spec(spec):
                return env
        except (MCPFactoryError, OSError):
            continue
    return None


def shop_copy(folder: Path, orders: int) -> Path:
    """The shop fixture (15 tools) with `orders` seed orders, in `folder`."""
    target = folder / "shop"
    shutil.copytree(SHOP, target)
    loader = importlib.util.spec_from_file_location("make_data", SHOP / "make_data.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    module.write(target / "data", orders)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", help="catalog environment or spec folder (default: tau_retail, hotel, else shop)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--orders", type=int, default=1500, help="seed orders of the shop fixture (default 1500)")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET)
    parser.add_argument("--no-parallel", action="store_true", help="skip the two-environment table")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="verify-speed-") as scratch:
        target = args.env or catalog_target() or str(shop_copy(Path(scratch), args.orders))
        spec = load_spec(Path(target) / "spec.yaml" if Path(target).exists() else catalog_root() / target / "spec.yaml")
        print(f"machine: {machine()}")
        print(f"target:  {target} ({spec.name}: {len(spec.spec.tools)} tools, "
              f"{sum(len(c) for c in spec.seed.values())} seed records), budget {args.budget:.0f} s, {args.runs} runs")  # fmt: skip
        per_check: dict[str, list[float]] = {name: [] for name in CHECK_NAMES}
        walls: list[float] = []
        failures: set[str] = set()
        for _ in range(args.runs):
            began = time.perf_counter()
            report = verify_env(target, budget=args.budget)
            walls.append(time.perf_counter() - began)
            for check in report.checks:
                per_check[check.name].append(check.seconds)
                if check.status.value == "failed":
                    failures.add(f"{check.name}: {check.summary}")
        print()
        print(f"{'check':<16}{'median s':>10}{'spread':>16}")
        for name, seconds in per_check.items():
            if seconds:
                note = "   (runs alongside the checks below)" if name == "protocol" else ""
                print(f"{name:<16}{median(seconds):>10.2f}{spread(seconds):>16}{note}")
        # protocol waits on its own process while the in-process checks run, so it is not added up.
        in_line = [sum(s[i] for n, s in per_check.items() if n != "protocol" and len(s) > i) for i in range(len(walls))]
        overhead = [wall - inside for wall, inside in zip(walls, in_line, strict=True)]
        print(f"{'(start, waits)':<16}{median(overhead):>10.2f}{spread(overhead):>16}")
        print(f"{'total':<16}{median(walls):>10.2f}{spread(walls):>16}   baseline: target < {TARGET_SECONDS:.0f} s")
        if failures:
            print("failed checks (the timing is still valid):", *sorted(failures), sep="\n  ")
        if not args.no_parallel:
            parallel_table(target, Path(scratch), args.budget)


def parallel_table(target: str, scratch: Path, budget: float) -> None:
    second = scratch / "second"
    source = Path(target) if Path(target).exists() else catalog_root() / target
    shutil.copytree(source, second, ignore=shutil.ignore_patterns("__pycache__", "server.py", "_runtime.py"))
    pair = [target, str(second)]
    print()
    print(f"{'two environments':<20}{'wall s':>10}")
    for jobs in (1, 2):
        began = time.perf_counter()
        verify_envs(pair, options=Options(budget=budget), jobs=jobs)
        print(f"{f'{jobs} worker(s)':<20}{time.perf_counter() - began:>10.2f}")


if __name__ == "__main__":
    sys.exit(main())
