"""Per-call cost of a generated server against a hand-written MCPServer doing the same work.

The generated server is the golden library (tests/mcpfactory/golden/library);
the baseline is benchmarks/_handwritten_library.py. Both serve find_book (a
read that scans the books by title), count_books (a read over every book) and
add_book (a write). Measured four ways:

  server side only  `env.call(session, ...)` against `MCPServer.call_tool(...)`:
                    the layer mcpfactory replaces, without transport or client;
  session growth    the same, after n add_book writes in one session;
  in memory         through `Client(server, mode="legacy")`, one fresh
                    connection (session) per round, the hand-written state put
                    back to the seed;
  stdio             one subprocess per server for the whole run
                    (`python -m golden.library` in tests/mcpfactory, and
                    `python benchmarks/_handwritten_library.py`).

Each round times a batch of calls per tool on each server, back to back, in an
order that alternates between rounds; a ratio is the median over rounds of
generated/hand-written, so drift on a shared machine cancels. In-process runs
are timed in CPU time of this process (single-threaded, no I/O: steadier than
wall time when others share the cores); stdio runs in wall time.

    python benchmarks/call_cost.py [--quick] [--profile] [--no-stdio]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import _handwritten_library as handwritten
import anyio
from _common import GOLDEN_DIR, REPO, golden, machine, median, spread, table
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

generated = golden("library")

TOOLS: dict[str, Callable[[int], dict[str, Any]]] = {
    "find_book": lambda i: {"title": "Cosmos"},
    "count_books": lambda i: {"genre": "fiction"},
    "add_book": lambda i: {"title": f"Title {i}", "genre": "history"},
}
SERVERS = ("generated", "hand-written")


async def _batch(
    client: Client, tool: str, calls: int, start: int, clock: Callable[[], float] = time.process_time
) -> float:
    """Make `calls` calls of `tool`; return seconds per call by `clock`."""
    make_args = TOOLS[tool]
    gc.collect()
    began = clock()
    for i in range(start, start + calls):
        result = await client.call_tool(tool, make_args(i))
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {result.content}")
    return (clock() - began) / calls


Samples = dict[str, dict[str, list[float]]]  # server -> tool -> seconds per call, one per round

_STDIO_MARKERS = {"generated": "golden.library", "hand-written": "_handwritten_library.py"}


def _child_pid(server: str) -> int:
    """Find the stdio server subprocess of this process by its command line."""
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in children.read_text().split():
            if _STDIO_MARKERS[server] in Path(f"/proc/{pid}/cmdline").read_text():
                return int(pid)
    raise RuntimeError(f"no {server} server among this process's children")


def _cpu_ns(pid: int) -> int:
    """CPU time of every thread of `pid`, in ns (schedstat: finer than /proc/PID/stat's clock ticks)."""
    return sum(int(stat.read_text().split()[0]) for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"))


async def _rounds(
    rounds: int,
    calls: int,
    connect: Callable[[AsyncExitStack, str], Awaitable[Client]],
    fresh_per_round: bool,
    clock: Callable[[], float],
) -> tuple[Samples, Samples]:
    """Time batches of calls; for stdio servers also the server process's CPU time per call."""
    samples: Samples = {server: defaultdict(list) for server in SERVERS}
    server_cpu: Samples = {server: defaultdict(list) for server in SERVERS}
    pids: dict[str, int] = {}
    async with AsyncExitStack() as run_stack:
        clients: dict[str, Client] = {}
        if not fresh_per_round:
            for server in SERVERS:
                clients[server] = await connect(run_stack, server)
                pids[server] = _child_pid(server)
        for round_no in range(rounds + 1):  # round 0 warms up and is dropped
            async with AsyncExitStack() as round_stack:
                if fresh_per_round:
                    handwritten.reset()
                    for server in SERVERS:
                        clients[server] = await connect(round_stack, server)
                order = SERVERS if round_no % 2 == 0 else SERVERS[::-1]
                for tool in TOOLS:
                    for server in order:
                        cpu_before = _cpu_ns(pids[server]) if pids else 0
                        per_call = await _batch(clients[server], tool, calls, round_no * calls, clock)
                        if round_no:
                            samples[server][tool].append(per_call)
                            if pids:
                                server_cpu[server][tool].append((_cpu_ns(pids[server]) - cpu_before) / 1e9 / calls)
    return samples, server_cpu


async def _handlers(rounds: int, calls: int) -> Samples:
    """Time the server side alone: `env.call` against `MCPServer.call_tool`, no transport, no client."""
    samples: Samples = {server: defaultdict(list) for server in SERVERS}
    env = generated.env
    for round_no in range(rounds + 1):
        handwritten.reset()
        session = env.new_session()
        order = SERVERS if round_no % 2 == 0 else SERVERS[::-1]
        for tool, make_args in TOOLS.items():
            for server in order:
                gc.collect()
                start = round_no * calls
                began = time.process_time()
                if server == "generated":
                    for i in range(start, start + calls):
                        result = env.call(session, tool, make_args(i))
                else:
                    for i in range(start, start + calls):
                        result = await handwritten.mcp.call_tool(tool, make_args(i))
                per_call = (time.process_time() - began) / calls
                if result.is_error:
                    raise RuntimeError(f"{tool} failed on {server}: {result.content}")
                if round_no:
                    samples[server][tool].append(per_call)
    return samples


async def _growth(sizes: tuple[int, ...], rounds: int, calls: int) -> list[list[str]]:
    """Server side only: per-call cost of count_books and add_book on a session that holds `n` writes.

    Every batch starts from exactly `n` written books: the generated session is
    rebuilt from the filled one's changes, the hand-written dict trimmed back.
    """
    rows = []
    env = generated.env
    for n in sizes:
        handwritten.reset()
        filled = env.new_session()
        for i in range(n):
            env.call(filled, "add_book", {"title": f"Fill {i}", "genre": "fiction"})
            await handwritten.mcp.call_tool("add_book", {"title": f"Fill {i}", "genre": "fiction"})
        changes = filled.snapshot("changes")
        times: dict[tuple[str, str], list[float]] = defaultdict(list)
        for round_no in range(rounds):
            for tool in ("count_books", "add_book"):
                for server in SERVERS if round_no % 2 == 0 else SERVERS[::-1]:
                    session = env.new_session(patch=changes)
                    for key in list(handwritten.BOOKS)[n + 2 :]:
                        del handwritten.BOOKS[key]
                    make_args = TOOLS[tool]
                    gc.collect()
                    began = time.process_time()
                    for i in range(calls):
                        if server == "generated":
                            env.call(session, tool, make_args(n + i))
                        else:
                            await handwritten.mcp.call_tool(tool, make_args(n + i))
                    times[server, tool].append((time.process_time() - began) / calls)
        row = [f"{n:,}"]
        for tool in ("count_books", "add_book"):
            gen, hand = times["generated", tool], times["hand-written", tool]
            ratio = median([g / h for g, h in zip(gen, hand, strict=True)])
            row += [f"{median(gen) * 1e6:,.0f}", f"{median(hand) * 1e6:,.0f}", f"{ratio:.2f}x"]
        rows.append(row)
    return rows


async def _connect_memory(stack: AsyncExitStack, server: str) -> Client:
    target = generated.build() if server == "generated" else handwritten.mcp
    return await stack.enter_async_context(Client(target, mode="legacy"))


def _stdio_params(server: str) -> StdioServerParameters:
    if server == "generated":
        return StdioServerParameters(command=sys.executable, args=["-m", "golden.library"], cwd=str(GOLDEN_DIR))
    script = REPO / "benchmarks" / "_handwritten_library.py"
    return StdioServerParameters(command=sys.executable, args=[str(script)], cwd=str(REPO))


async def _connect_stdio(stack: AsyncExitStack, server: str) -> Client:
    return await stack.enter_async_context(Client(_stdio_params(server), mode="legacy"))


async def _startup(repeats: int) -> dict[str, list[float]]:
    """Seconds from spawning a stdio server to the end of the initialize handshake."""
    out: dict[str, list[float]] = {server: [] for server in SERVERS}
    for i in range(repeats):
        for server in SERVERS if i % 2 == 0 else SERVERS[::-1]:
            began = time.perf_counter()
            async with Client(_stdio_params(server), mode="legacy"):
                out[server].append(time.perf_counter() - began)
    return out


def _report(title: str, samples: Samples, server_cpu: Samples | None = None) -> float:
    """Print one transport's table; return the median ratio over rounds of summed per-call cost."""

    def ratios(of: Samples, tool: str | None) -> list[float]:
        tools = [tool] if tool else list(TOOLS)
        rounds = len(of["generated"][tools[0]])
        return [
            sum(of["generated"][t][r] for t in tools) / sum(of["hand-written"][t][r] for t in tools)
            for r in range(rounds)
        ]

    headers = ["tool", "generated us/call", "hand-written us/call", "ratio gen/hand", "ratio IQR"]
    if server_cpu:
        headers += ["server CPU us/call gen", "hand", "ratio"]
    rows = []
    for tool in [*TOOLS, None]:
        if tool:
            row = [tool, f"{median(samples['generated'][tool]) * 1e6:,.0f}"]
            row.append(f"{median(samples['hand-written'][tool]) * 1e6:,.0f}")
        else:
            row = ["all three (sum)", "", ""]
        mix = ratios(samples, tool)
        row += [f"{median(mix):.2f}x", spread(mix)]
        if server_cpu:
            if tool:
                row += [f"{median(server_cpu[s][tool]) * 1e6:,.0f}" for s in SERVERS]
            else:
                row += ["", ""]
            row.append(f"{median(ratios(server_cpu, tool)):.2f}x")
        rows.append(row)
    print(f"\n{title}")
    print(table(headers, rows))
    return median(ratios(samples, None))


def _profile(calls: int) -> None:
    """Profile in-memory calls on each server; print where the time goes, by layer."""

    async def drive(server: str) -> None:
        async with AsyncExitStack() as stack:
            handwritten.reset()
            client = await _connect_memory(stack, server)
            for tool in TOOLS:
                await _batch(client, tool, 20, 0)  # warm up (tools/list, schema caches)
            gc.collect()
            profiler = cProfile.Profile()
            profiler.enable()
            for tool, make_args in TOOLS.items():
                for i in range(calls):
                    await client.call_tool(tool, make_args(1000 + i))
            profiler.disable()
            _print_layers(server, profiler, calls * len(TOOLS))

    for server in SERVERS:
        anyio.run(drive, server)


_LAYERS = (
    ("_runtime.py", "mcpfactory runtime"),
    ("golden/library", "tool bodies"),
    ("_handwritten_library", "tool bodies"),
    ("mcp/server/mcpserver", "MCPServer layer"),
    ("mcp/server/lowlevel", "SDK lowlevel server"),
    ("mcp/client", "SDK client"),
    ("mcp_types", "SDK wire types"),
    ("mcp/", "SDK other (session, dispatch, streams)"),
    ("pydantic", "pydantic"),
    ("anyio", "anyio"),
    ("asyncio", "asyncio"),
)


def _layer(filename: str) -> str:
    for needle, layer in _LAYERS:
        if needle in filename:
            return layer
    return "builtins/other" if filename.startswith("~") or "<" in filename else "stdlib/other"


def _print_layers(server: str, profiler: cProfile.Profile, calls: int) -> None:
    stats = pstats.Stats(profiler)
    by_layer: dict[str, float] = defaultdict(float)
    top = []
    for (filename, line, func), (_cc, _nc, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_layer[_layer(filename)] += tottime
        top.append((tottime, f"{filename.rsplit('site-packages/', 1)[-1]}:{line}({func})", cumtime))
    total = sum(by_layer.values())
    print(f"\nprofile, {server}, in memory ({calls} calls, cProfile self time; profiler overhead inflates small calls)")
    rows = [
        [layer, f"{t / calls * 1e6:,.1f}", f"{t / total:.0%}"]
        for layer, t in sorted(by_layer.items(), key=lambda item: -item[1])
    ]
    rows.append(["total", f"{total / calls * 1e6:,.1f}", "100%"])
    print(table(["layer", "us/call (self)", "share"], rows))
    print("top functions by self time:")
    for tottime, where, cumtime in sorted(top, reverse=True)[:12]:
        print(f"  {tottime / calls * 1e6:7.1f} us/call self  {cumtime / calls * 1e6:8.1f} cum  {where}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run (a few seconds)")
    parser.add_argument("--profile", action="store_true", help="also profile both servers in memory")
    parser.add_argument("--no-stdio", action="store_true", help="skip the subprocess measurements")
    args = parser.parse_args(argv)
    memory_rounds, memory_calls = (3, 10) if args.quick else (21, 200)
    stdio_rounds, stdio_calls = (2, 5) if args.quick else (11, 100)

    print(f"call_cost: {machine()}")
    ratios = {}
    samples = anyio.run(_handlers, memory_rounds, memory_calls)
    ratios["server side only"] = _report(
        f"server side only, env.call vs MCPServer.call_tool: {memory_rounds} rounds x {memory_calls} calls per tool",
        samples,
    )
    growth_sizes = (0, 300) if args.quick else (0, 100, 1_000, 10_000)
    calls_g = 10 if args.quick else 50
    growth = anyio.run(_growth, growth_sizes, 3 if args.quick else 5, calls_g)
    print(f"\nserver side only, on a session already holding n written books (us/call; add_book: n to n+{calls_g})")
    print(
        table(
            [
                "writes in session",
                "count_books gen",
                "count_books hand",
                "ratio",
                "add_book gen",
                "add_book hand",
                "ratio",
            ],
            growth,
        )
    )
    samples, _ = anyio.run(_rounds, memory_rounds, memory_calls, _connect_memory, True, time.process_time)
    ratios["in memory"] = _report(
        f"in memory, Client(server, mode='legacy'): {memory_rounds} rounds x {memory_calls} calls per tool", samples
    )
    if not args.no_stdio:
        samples, server_cpu = anyio.run(_rounds, stdio_rounds, stdio_calls, _connect_stdio, False, time.perf_counter)
        ratios["stdio"] = _report(
            f"stdio subprocesses: {stdio_rounds} rounds x {stdio_calls} calls per tool (one process each); "
            "wall time per call, and the server process's CPU time per call",
            samples,
            server_cpu,
        )
        ratios["stdio, server CPU"] = median(
            [
                sum(server_cpu["generated"][t][r] for t in TOOLS) / sum(server_cpu["hand-written"][t][r] for t in TOOLS)
                for r in range(stdio_rounds)
            ]
        )
        if not args.quick:
            startup = anyio.run(_startup, 5)
            print("\nstdio start-up, spawn to initialized (not like for like: the golden server has 8 tools, not 3)")
            print(
                table(
                    ["server", "median s", "min s"],
                    [[s, f"{median(v):.2f}", f"{min(v):.2f}"] for s, v in startup.items()],
                )
            )
    if args.profile:
        _profile(200 if args.quick else 2000)
    print()
    for transport, ratio in ratios.items():
        print(f"ratio generated/hand-written per call, {transport}: {ratio:.2f}x (target <= 1.0)")


if __name__ == "__main__":
    main()
