"""Session reset time and per-session memory against seed size, with a deep-copy baseline.

An environment is built with the runtime API directly (`mcpfactory.runtime`,
the module every generated server copies as `_runtime.py`): one collection of
records, seeded with 10 to 100,000 records, and one write tool. A session is

  mcpfactory  `env.new_session()` + one `env.call(session, "restock", ...)`
              (argument validation, copy-on-write of one record, record
              validation on commit);
  deep copy   `copy.deepcopy(seed)` + the same change made in place, which is
              what a naive server does to give each session its own state.

Time is CPU time of this process (steadier than wall time on a shared machine;
the work is single-threaded and does no I/O), the median over rounds of a batch
of sessions, the two alternating; memory is the tracemalloc delta with the sessions held alive, divided by their
number. The frozen seed itself is loaded once per process and shared by every
session; its size is shown for scale.

    python benchmarks/reset_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import gc
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from _common import machine, median, table
from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from mcpfactory.runtime import Collection, Environment, Session, StateBase, freeze


@with_config(ConfigDict(extra="forbid"))
class Shelf(TypedDict):
    aisle: str
    bay: int


@with_config(ConfigDict(extra="forbid"))
class Item(TypedDict):
    item_id: str
    name: str
    category: Literal["tools", "garden", "kitchen"]
    qty: int
    price: float
    tags: list[str]
    shelf: Shelf


class State(StateBase):
    items: Collection[Item]


def restock(state: State, *, item_id: str, qty: int) -> Item:
    """Set an item's quantity."""
    item = state.items.edit(item_id)
    item["qty"] = qty
    return item


def seed_records(n: int) -> dict[str, dict[str, Any]]:
    categories = ("tools", "garden", "kitchen")
    return {
        f"i{k:06d}": {
            "item_id": f"i{k:06d}",
            "name": f"Item number {k}",
            "category": categories[k % 3],
            "qty": k % 17,
            "price": 1.25 + k % 100,
            "tags": [f"tag{k % 7}", f"tag{k % 11}"],
            "shelf": {"aisle": f"A{k % 20}", "bay": k % 50},
        }
        for k in range(n)
    }


def make_env(seed: dict[str, dict[str, Any]]) -> Environment:
    env = Environment(
        name="bench",
        version="0",
        description="A store room, for benchmarks.",
        instructions=None,
        state_class=State,
        seed=lambda: {"items": seed},
        records={"items": ("item_id", Item)},
        clock=datetime(2024, 1, 1),
    )
    env.tool(effect="write")(restock)
    return env


def _keys(n: int, count: int) -> list[str]:
    """Keys spread over the seed, so sessions write different records."""
    return [f"i{(k * 7919) % n:06d}" for k in range(count)]


def runtime_session(env: Environment, key: str) -> Session:
    session = env.new_session()
    result = env.call(session, "restock", {"item_id": key, "qty": 99})
    if result.is_error:
        raise RuntimeError(result.content)
    return session


def deepcopy_session(seed: dict[str, Any], key: str) -> dict[str, Any]:
    state = copy.deepcopy(seed)
    state["items"][key]["qty"] = 99
    return state


def _time_batch(make: Callable[[str], Any], keys: list[str]) -> float:
    """CPU seconds per session: create each, discard it."""
    gc.collect()
    began = time.process_time()
    for key in keys:
        make(key)
    return (time.process_time() - began) / len(keys)


def _memory_per_session(make: Callable[[str], Any], keys: list[str]) -> float:
    """Bytes per session held alive (tracemalloc delta)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [make(key) for key in keys]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del held
    return (after - before) / len(keys)


def _check_isolation(env: Environment, seed: dict[str, Any], keys: list[str]) -> None:
    sessions = [runtime_session(env, key) for key in keys[:3]]
    fresh = env.new_session()
    for key, session in zip(keys, sessions, strict=True):
        if session.state.items[key]["qty"] != 99 or fresh.state.items[key]["qty"] != seed["items"][key]["qty"]:
            raise AssertionError(f"a write to {key} leaked between sessions")


def measure(n: int, rounds: int, quick: bool) -> list[str]:
    records = seed_records(n)
    seed = {"items": records}
    env = make_env(records)

    began = time.process_time()
    env.seed_state()  # load and freeze once per process
    load_s = time.process_time() - began
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    frozen = freeze({"items": seed_records(n)})  # what a server holds after seed_state(), strings included
    seed_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del frozen

    _check_isolation(env, seed, _keys(n, 3))
    runtime_session(env, "i000000")  # warm the validators
    # The deep copy is linear in the seed: size its batches to a few hundred ms at most.
    base_batch = max(1, min(200, (2_000 if quick else 20_000) // n))
    gen_batch = 100 if quick else 500
    gen_keys, base_keys = _keys(n, gen_batch), _keys(n, base_batch)

    def runtime(key: str) -> Session:
        return runtime_session(env, key)

    def naive(key: str) -> dict[str, Any]:
        return deepcopy_session(seed, key)

    times: dict[str, list[float]] = {"runtime": [], "naive": []}
    batches: dict[str, tuple[Callable[[str], Any], list[str]]] = {
        "runtime": (runtime, gen_keys),
        "naive": (naive, base_keys),
    }
    for round_no in range(rounds):
        for side in ("runtime", "naive") if round_no % 2 == 0 else ("naive", "runtime"):
            times[side].append(_time_batch(*batches[side]))
    gen_times, base_times = times["runtime"], times["naive"]
    ratios = [b / g for g, b in zip(gen_times, base_times, strict=True)]

    gen_mem = _memory_per_session(runtime, _keys(n, 200 if quick else 1_000))
    base_mem = _memory_per_session(naive, _keys(n, max(1, min(50, 200_000 // n))))
    return [
        f"{n:,}",
        f"{seed_bytes / 2**20:,.2f}",
        f"{load_s * 1e3:,.2f}",
        f"{median(gen_times) * 1e6:,.1f}",
        f"{median(base_times) * 1e6:,.0f}",
        f"{median(ratios):,.1f}x",
        f"{gen_mem / 1024:,.2f}",
        f"{base_mem / 1024:,.0f}",
        f"{base_mem / gen_mem:,.1f}x",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run (a few seconds)")
    args = parser.parse_args(argv)
    sizes = (10, 100, 1_000) if args.quick else (10, 100, 1_000, 10_000, 100_000)
    rounds = 3 if args.quick else 5

    print(f"reset_memory: {machine()}")
    rows = [measure(n, rounds, args.quick) for n in sizes]
    print(
        "\nper session: new session + one write; CPU time, median of "
        f"{rounds} alternating rounds; memory with the sessions held (tracemalloc)"
    )
    print(
        table(
            [
                "seed records",
                "frozen seed MiB (once)",
                "seed load ms (once)",
                "mcpfactory us/session",
                "deep copy us/session",
                "time ratio copy/mcpf",
                "mcpfactory KiB/session",
                "deep copy KiB/session",
                "memory ratio copy/mcpf",
            ],
            rows,
        )
    )
    print("\nratios are deep copy / mcpfactory: how many times the naive reset costs more.")


if __name__ == "__main__":
    main()
