"""Many sessions at once: the state of 10,000 in one process, and 1,000 live MCP sessions over HTTP.

(a) state  10,000 sessions of the golden library held at once through the
           runtime API (`env.new_session()` + one `add_book` each), memory per
           session by tracemalloc, isolation checked by reading every session
           back; against the same sessions as deep copies of the seed.
(b) HTTP   1,000 concurrent MCP sessions (`Client(..., mode="legacy")` over
           streamable HTTP) on one server process, `python -m golden.library
           --http` in tests/mcpfactory; every session writes a book, then, once
           all have written, reads its own book back and looks for its
           neighbour's (it must not see it). The server's RSS
           (/proc/PID/status VmRSS) before and with all sessions live gives the
           memory per live session; throughput is sessions opened per second
           and calls per second in the read phase. The baseline is the
           hand-written MCPServer (benchmarks/_handwritten_library.py --http)
           under the same load; it keeps one state for everyone, so it shows
           the crossing the check is there to catch.

The SDK's StreamableHTTPSessionManager refuses new sessions past
`max_sessions` (default 10,000 in mcp 2.3) and closes a session idle for
`session_idle_timeout` (default 30 min); the run prints both, and neither binds
at 1,000. The load generator raises its own fd limit to the hard limit.

    python benchmarks/sessions.py [--quick] [--sessions N] [--state-sessions N] [--no-http] [--no-baseline]
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
from _common import GOLDEN_DIR, REPO, golden, machine, table
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.streamable_http_manager import DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE_TIMEOUT

library = golden("library")

SETUP_CONCURRENCY = 50  # sessions opening at once; the rest wait, then stay open
CALL_CONCURRENCY = 100
HTTP_TIMEOUT = httpx2.Timeout(60, read=300)


# --------------------------------------------------------------------------- (a) state in one process


def _held_memory(make: Callable[[int], Any], count: int) -> tuple[list[Any], float, float]:
    """Create `count` sessions and hold them; return them, bytes per session and CPU seconds per session."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        began = time.process_time()
        held = [make(i) for i in range(count)]
        cpu = time.process_time() - began
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return held, (after - before) / count, cpu / count


def state_sessions(count: int) -> list[list[str]]:
    env = library.env
    warm = env.new_session()
    env.call(warm, "add_book", {"title": "warm-up", "genre": "fiction"})

    def runtime_session(i: int) -> Any:
        session = env.new_session()
        result = env.call(session, "add_book", {"title": f"S{i}", "genre": "fiction"})
        if result.is_error or result.structured_content != {"result": "b3"}:
            raise AssertionError(f"session {i}: add_book gave {result}")
        return session

    seed = library.seed()

    def deepcopy_session(i: int) -> Any:
        state = copy.deepcopy(seed)
        state["books"]["b3"] = {"book_id": "b3", "title": f"S{i}", "genre": "fiction", "copies": 1}
        return state

    sessions, gen_bytes, gen_cpu = _held_memory(runtime_session, count)
    crossings = 0
    began = time.process_time()
    for i, session in enumerate(sessions):
        own = env.call(session, "find_book", {"title": f"S{i}"})
        other = env.call(session, "find_book", {"title": f"S{(i + 1) % count}"})
        if own.is_error or own.structured_content["book_id"] != "b3" or not other.is_error:
            crossings += 1
        if len(session.state.books) != 3:
            crossings += 1
    read_cpu = (time.process_time() - began) / (2 * count)
    fresh = env.new_session()
    if len(fresh.state.books) != 2:
        crossings += 1
    del sessions
    copies, base_bytes, base_cpu = _held_memory(deepcopy_session, count)
    del copies
    if crossings:
        raise AssertionError(f"{crossings} of {count} sessions saw state that was not theirs")
    print(f"\n(a) {count:,} sessions held at once in one process (golden library seed: 2 books, 2 members)")
    rows = [
        [
            "mcpfactory (seed + overlay)",
            f"{gen_bytes / 1024:.2f}",
            f"{gen_bytes * count / 2**20:.1f}",
            f"{gen_cpu * 1e6:.1f}",
        ],
        [
            "deep copy of the seed",
            f"{base_bytes / 1024:.2f}",
            f"{base_bytes * count / 2**20:.1f}",
            f"{base_cpu * 1e6:.1f}",
        ],
    ]
    print(table(["sessions as", "KiB/session", f"MiB for {count:,}", "CPU us to create + write (traced)"], rows))
    print(
        f"isolation: each of {count:,} sessions read its own book back and not its neighbour's "
        f"({read_cpu * 1e6:.1f} us per read); a fresh session still has the seed's 2 books."
    )
    print(f"memory ratio mcpfactory/deep copy: {gen_bytes / base_bytes:.2f}x (with this 4-record seed)")
    return rows


# --------------------------------------------------------------------------- (b) live sessions over HTTP


@dataclass
class HttpRun:
    server: str
    sessions: int
    rss_before_kib: int
    rss_live_kib: int
    open_s: float
    read_s: float
    open_cpu_s: float  # the server's CPU time in each phase
    read_cpu_s: float
    crossings: int
    failures: int

    @property
    def kib_per_session(self) -> float:
        return (self.rss_live_kib - self.rss_before_kib) / self.sessions


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_command(server: str, port: int) -> tuple[list[str], Path]:
    if server == "generated":
        return [sys.executable, "-m", "golden.library", "--http", "--port", str(port)], GOLDEN_DIR
    script = REPO / "benchmarks" / "_handwritten_library.py"
    return [sys.executable, str(script), "--http", "--port", str(port)], REPO


async def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    with anyio.fail_after(60):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} before listening")
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return


async def _drive(url: str, count: int, pid: int, server: str) -> HttpRun:
    """Open `count` sessions, write, read back, measure RSS with all live, close."""
    setup = anyio.CapacityLimiter(SETUP_CONCURRENCY)
    calls = anyio.CapacityLimiter(CALL_CONCURRENCY)
    written, read_back, release = anyio.Event(), anyio.Event(), anyio.Event()
    done_writing = done_reading = crossings = failures = 0

    async def connect(stack: AsyncExitStack) -> Client:
        # One HTTP client per session, as separate agents would have. Plain http: skip
        # loading CA certificates (~20 ms of CPU per client). One shared client would
        # not do: its pool scans every open connection on each request.
        http = await stack.enter_async_context(httpx2.AsyncClient(verify=False, timeout=HTTP_TIMEOUT))
        # No DELETE on close: the server is stopped right after, and 1,000 DELETEs would only add to the run.
        transport = streamable_http_client(url, http_client=http, terminate_on_close=False)
        return await stack.enter_async_context(Client(transport, mode="legacy"))

    async def one(i: int) -> None:
        nonlocal done_writing, done_reading, crossings, failures
        async with AsyncExitStack() as stack:
            client: Client | None = None
            book_id = None
            try:
                async with setup:
                    client = await connect(stack)
                    result = await client.call_tool("add_book", {"title": f"S{i}", "genre": "fiction"})
                    book_id = (result.structured_content or {}).get("result")
            except Exception:  # boundary: a session that could not open or write is counted and reported
                failures += 1
                client = None
            done_writing += 1
            if done_writing == count:
                written.set()
            await written.wait()  # every session has written before any reads
            if client is not None:
                async with calls:
                    own = await client.call_tool("find_book", {"title": f"S{i}"})
                    other = await client.call_tool("find_book", {"title": f"S{(i + 1) % count}"})
                seen = (own.structured_content or {}).get("book_id")
                if own.is_error or seen != book_id or not other.is_error:
                    crossings += 1
            done_reading += 1
            if done_reading == count:
                read_back.set()
            await release.wait()
            async with setup:
                await stack.aclose()

    for _ in range(3):  # warm the server up: imports, caches, first allocations
        async with AsyncExitStack() as stack:
            warm = await connect(stack)
            await warm.call_tool("find_book", {"title": "Dune"})
    rss_before, cpu_before = _rss_kib(pid), _cpu_s(pid)

    async with anyio.create_task_group() as tg:
        began = time.perf_counter()
        for i in range(count):
            tg.start_soon(one, i)
        await written.wait()
        opened, cpu_opened = time.perf_counter(), _cpu_s(pid)
        await read_back.wait()
        read, cpu_read = time.perf_counter(), _cpu_s(pid)
        rss_live = _rss_kib(pid)
        release.set()
    return HttpRun(
        server=server,
        sessions=count,
        rss_before_kib=rss_before,
        rss_live_kib=rss_live,
        open_s=opened - began,
        read_s=read - opened,
        open_cpu_s=cpu_opened - cpu_before,
        read_cpu_s=cpu_read - cpu_opened,
        crossings=crossings,
        failures=failures,
    )


async def http_sessions(server: str, count: int) -> HttpRun:
    port = _free_port()
    command, cwd = _server_command(server, port)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            await _wait_listening(port, process)
            with anyio.fail_after(600):
                return await _drive(f"http://127.0.0.1:{port}/mcp", count, process.pid, server)
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < needed:
        print(f"warning: fd limit {soft} is below the ~{needed} this run needs", file=sys.stderr)


def report_http(runs: list[HttpRun]) -> None:
    count = runs[0].sessions
    print(f"\n(b) {count:,} live MCP sessions over streamable HTTP on one server process")
    print(
        f"SDK limits: max_sessions={DEFAULT_MAX_SESSIONS:,}, session_idle_timeout={DEFAULT_SESSION_IDLE_TIMEOUT}s "
        f"({'binding' if DEFAULT_MAX_SESSIONS is not None and count > DEFAULT_MAX_SESSIONS else 'not binding'} here)"
    )
    rows = []
    for run in runs:
        rows.append(
            [
                run.server,
                f"{run.rss_before_kib / 1024:.1f}",
                f"{run.rss_live_kib / 1024:.1f}",
                f"{run.kib_per_session:.1f}",
                f"{run.sessions / run.open_s:.0f}",
                f"{run.open_cpu_s / run.sessions * 1e3:.1f}",
                f"{2 * run.sessions / run.read_s:.0f}",
                f"{run.read_cpu_s / (2 * run.sessions) * 1e3:.2f}",
                f"{run.failures}",
                f"{run.crossings}",
            ]
        )
    print(
        table(
            [
                "server",
                "RSS before MiB",
                "RSS live MiB",
                "KiB/live session",
                "sessions opened/s",
                "server CPU ms/session opened",
                "read calls/s",
                "server CPU ms/read call",
                "failed",
                "state crossings",
            ],
            rows,
        )
    )
    print(
        "a session opened is initialize + initialized + the GET stream + one add_book, "
        f"{SETUP_CONCURRENCY} opening at once; reads are 2 find_book per session, {CALL_CONCURRENCY} at once. "
        "Client and server share the machine's cores: the server's CPU time is the steadier figure."
    )
    gen = next(r for r in runs if r.server == "generated")
    hand = next((r for r in runs if r.server == "hand-written"), None)
    if hand is not None:
        print(
            "ratio generated/hand-written: "
            f"memory per live session {gen.kib_per_session / hand.kib_per_session:.2f}x, "
            f"server CPU per session opened {gen.open_cpu_s / hand.open_cpu_s:.2f}x, "
            f"per read call {gen.read_cpu_s / hand.read_cpu_s:.2f}x; "
            f"throughput (wall, noisy) sessions opened/s {hand.open_s / gen.open_s:.2f}x, "
            f"read calls/s {hand.read_s / gen.read_s:.2f}x"
        )
        if hand.crossings:
            print(
                f"the hand-written server shares one state: {hand.crossings:,} of {hand.sessions:,} sessions "
                "saw another's book (expected; the check is what catches it)"
            )
    if gen.crossings or gen.failures:
        raise AssertionError(f"generated server: {gen.crossings} crossings, {gen.failures} failed sessions")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run (a few seconds)")
    parser.add_argument("--sessions", type=int, help="live HTTP sessions (default 1,000; 40 with --quick)")
    parser.add_argument("--state-sessions", type=int, help="sessions held in (a) (default 10,000; 1,000 with --quick)")
    parser.add_argument("--no-http", action="store_true", help="skip (b)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the hand-written server in (b)")
    args = parser.parse_args(argv)
    state_count = args.state_sessions or (1_000 if args.quick else 10_000)
    http_count = args.sessions or (40 if args.quick else 1_000)

    print(f"sessions: {machine()}")
    state_sessions(state_count)
    if not args.no_http:
        _raise_fd_limit(3 * http_count + 256)
        # The load generator holds 1,000 clients' objects; with CPython's default thresholds
        # its full collections then dominate its CPU. This tunes the client, not the servers.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
        servers = ["generated"] if args.no_baseline else ["generated", "hand-written"]
        runs = [anyio.run(http_sessions, server, http_count) for server in servers]
        report_http(runs)
    print(f"\n(pid {os.getpid()} done)")


if __name__ == "__main__":
    main()
