"""Verify environments in parallel worker processes, each under a time budget, killing what overruns.

Each environment runs in its own worker process, forked by a fork server that
has imported the verifier once; the worker leads a new process group and sends
one event per finished check down a pipe. A worker that outlives its budget (a
body stuck in one C call, a server that will not die) is killed with its whole
group, and its report keeps the checks that finished, fails the one that was
running and skips the rest.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import anyio

from mcpfactory.errors import UsageError
from mcpfactory.verify._report import CheckResult, EnvReport, Status
from mcpfactory.verify._target import locate
from mcpfactory.verify.checks import CHECKS, Options

__all__ = ["DEFAULT_BUDGET", "verify_env", "verify_envs"]

DEFAULT_BUDGET = 60.0


def verify_env(
    target: str | Path,
    *,
    seed: int = 0,
    budget: float = DEFAULT_BUDGET,
    checks: Iterable[str] | None = None,
    call_bound: float = 1.0,
    start_bound: float = 10.0,
) -> EnvReport:
    """Verify one environment (a catalog name or a spec path) and return its report.

    A spec outside the catalog is compiled into a scratch folder first, so a
    broken spec can be verified as it is. Raises `LookupError` for an unknown
    name; everything that goes wrong with the environment itself is in the report.
    """
    options = Options(seed=seed, budget=budget, call_bound=call_bound, start_bound=start_bound)
    return verify_envs([target], options=options, checks=checks)[0]


def verify_envs(
    targets: Sequence[str | Path],
    *,
    options: Options | None = None,
    checks: Iterable[str] | Mapping[str, Iterable[str]] | None = None,
    jobs: int | None = None,
    on_report: Callable[[EnvReport], None] | None = None,
) -> list[EnvReport]:
    """Verify environments in parallel (`jobs` at a time, one per CPU by default); reports in `targets` order.

    `checks` names the checks to run (static always runs), for every target or,
    as a mapping from target to names, per target. Raises `LookupError` for an
    unknown target or check before anything starts.
    """
    options = options or Options()
    labels = [str(t) for t in targets]
    wanted = {label: _check_names(checks[label] if isinstance(checks, Mapping) else checks) for label in labels}
    for label in labels:
        locate(label)
    limit = jobs or os.cpu_count() or 1
    reports: list[EnvReport | None] = [None] * len(labels)
    # A busy machine stretches every wall-clock budget by how much less CPU this process gets.
    scaled = replace(options, budget=options.budget * load_factor())

    async def run_all() -> None:
        limiter = anyio.CapacityLimiter(limit)
        server = _ForkServer(options.seed)
        try:

            async def one(index: int) -> None:
                label = labels[index]
                async with limiter:
                    report = await _run_worker(server, label, scaled, wanted[label])
                    for _ in range(RETRIES):
                        if report.ok:
                            break
                        # A failure may be the machine's (a worker killed at its budget): run the failed checks
                        # again before anything is quarantined; a real bug fails the same way twice.
                        again = await _run_worker(server, label, scaled, sorted(c.name for c in report.failed))
                        report = _merge_retry(report, again)
                reports[index] = report
                if on_report is not None:
                    on_report(report)

            async with anyio.create_task_group() as group:
                for index in range(len(labels)):
                    group.start_soon(one, index)
        finally:
            server.close()

    anyio.run(run_all)
    return [report for report in reports if report is not None]


RETRIES = 1
"""How many times the failed checks of an environment are run again before it is quarantined."""


def load_factor(work_s: float = 0.05, cap: float = 8.0) -> float:
    """How much slower than its CPU time this process runs now: wall / CPU over a short busy loop (1 when idle)."""
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    while time.process_time() - cpu_start < work_s:
        sum(range(1000))
    ratio = (time.perf_counter() - wall_start) / max(time.process_time() - cpu_start, 1e-9)
    return min(cap, max(1.0, ratio))


def _merge_retry(first: EnvReport, again: EnvReport) -> EnvReport:
    """The first report with each failed check replaced by its retry (marked as such when the retry passed)."""
    retried = {check.name: check for check in again.checks}
    checks = []
    for check in first.checks:
        retry = retried.get(check.name)
        if check.status is not Status.FAILED or retry is None:
            checks.append(check)
        elif retry.passed:
            note = f"{retry.summary} (passed on a retry; the first run failed: {check.summary})"
            checks.append(replace(retry, summary=note, stats={**retry.stats, "retried": True}))
        else:
            checks.append(retry)
    return replace(first, checks=tuple(checks), seconds=first.seconds + again.seconds)


def _check_names(names: Iterable[str] | None) -> list[str] | None:
    if names is None:
        return None
    chosen = sorted(set(names))
    unknown = [name for name in chosen if name not in CHECKS]
    if unknown:
        raise UsageError(f"unknown check(s) {', '.join(unknown)} (known: {', '.join(CHECKS)})")
    return chosen


def _grace(budget: float) -> float:
    """Seconds past the budget before a worker is killed: time for its checks to wind down on their own."""
    return min(15.0, max(2.0, budget / 4))


class _ForkServer:
    """The worker factory: a `python -m mcpfactory.verify._worker` that forks one worker per environment."""

    def __init__(self, hash_seed: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcpfactory.verify._worker", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed % 4_294_967_295)},
        )
        theirs.close()
        self.sock = ours
        self.lock = anyio.Lock()
        self.jobs = itertools.count(1)

    async def fork(self, job: dict[str, Any]) -> tuple[int, int]:
        """Start a worker on `job`; return its pid and the read end of its event pipe."""
        async with self.lock:
            self.sock.sendall(json.dumps({**job, "id": next(self.jobs)}).encode())
            await anyio.wait_readable(self.sock)
            message, fds, _, _ = socket.recv_fds(self.sock, 4096, 1)
        if not message or not fds:
            raise RuntimeError(f"the verifier's fork server stopped (status {self.process.poll()})")
        return int(json.loads(message)["pid"]), fds[0]

    def close(self) -> None:
        self.sock.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _run_worker(server: _ForkServer, label: str, options: Options, checks: list[str] | None) -> EnvReport:
    target = locate(label)
    began = time.perf_counter()
    events: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mcpf-worker-") as scratch:
        stderr_path = Path(scratch) / "worker-stderr.log"
        job = {
            "target": label,
            "options": asdict(options),
            "checks": checks,
            "workdir": scratch,
            "cwd": os.getcwd(),
            "stderr": str(stderr_path),
        }
        pid, channel = await server.fork(job)
        killed = False
        buffer = b""
        try:
            with anyio.move_on_after(options.budget + _grace(options.budget)) as scope:
                while True:
                    await anyio.wait_readable(channel)
                    chunk = os.read(channel, 1 << 16)
                    if not chunk:
                        break
                    *lines, buffer = (buffer + chunk).split(b"\n")
                    events.extend(json.loads(line) for line in lines if line.strip())
            killed = scope.cancelled_caught
        finally:
            os.close(channel)
            if killed or not any(e.get("event") == "done" for e in events):
                _kill_group(pid)
        tail = _tail(stderr_path)
    return _report(target.name, label, options, events, killed, tail, time.perf_counter() - began)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 8) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.strip().splitlines() if line.strip()][-lines:]


def _report(
    name: str,
    label: str,
    options: Options,
    events: list[dict[str, Any]],
    killed: bool,
    stderr_tail: list[str],
    seconds: float,
) -> EnvReport:
    done = next((e for e in events if e.get("event") == "done"), None)
    if done is not None:
        return EnvReport(
            env=done["env"],
            target=label,
            spec_sha256=done.get("spec_sha256"),
            seed=options.seed,
            checks=tuple(CheckResult.from_json(c) for c in done["checks"]),
            seconds=seconds,
        )
    begin = next((e for e in events if e.get("event") == "begin"), {})
    planned: list[str] = begin.get("checks") or list(CHECKS)
    results = {e["result"]["name"]: CheckResult.from_json(e["result"]) for e in events if e.get("event") == "result"}
    running = next((e["check"] for e in reversed(events) if e.get("event") == "start"), None)
    why = (
        f"killed after {options.budget + _grace(options.budget):.0f} s (budget {options.budget:.0f} s) while this check ran"
        if killed
        else "the verifier's worker stopped unexpectedly while this check ran"
    )
    checks: list[CheckResult] = []
    for check in planned:
        if check in results:
            checks.append(results[check])
        elif check == running:
            checks.append(CheckResult(check, Status.FAILED, why, tuple(stderr_tail)))
        else:
            checks.append(CheckResult(check, Status.SKIPPED, "not run: the worker stopped before it"))
    if running is None and not results:
        checks = [CheckResult("static", Status.FAILED, why.replace(" while this check ran", ""), tuple(stderr_tail))]
    return EnvReport(env=name, target=label, spec_sha256=None, seed=options.seed, checks=tuple(checks), seconds=seconds)
