"""The worker: verify one environment in this process and stream each check's result to the runner.

`python -m mcpfactory.verify._worker FD` is the fork server the runner
starts: it imports all this once, then forks a worker (`serve`) per
environment, which starts in milliseconds and sends its events down a pipe.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import anyio

from mcpfactory.verify._probe import FAULTS
from mcpfactory.verify._report import CheckResult, Status
from mcpfactory.verify._target import locate
from mcpfactory.verify.checks import CHECKS, WEIGHTS, CheckContext, Failed, Options, Skipped

__all__ = ["fork_server", "run_checks", "serve"]

Emit = Callable[[dict[str, Any]], None]


SERVER_STARTS = "protocol"  # runs alongside the others: it waits on a process, they work in this one


async def run_checks(ctx: CheckContext, names: Sequence[str], emit: Emit) -> list[CheckResult]:
    """Run the named checks within the budget and return their results in `names` order.

    static runs first: without a usable server nothing else can. Then the
    protocol check starts its stdio server in the background while the server
    module is imported here (in a thread, within the start bound, since a module
    that hangs at import would hang this process) and the in-process checks run
    one after the other, each with its share of the time left.
    """
    results: dict[str, CheckResult] = {}
    end = time.monotonic() + ctx.options.budget

    def record(result: CheckResult) -> None:
        results[result.name] = result
        emit({"event": "result", "result": result.to_json()})

    emit({"event": "start", "check": "static"})
    record(await _run_one(ctx, "static"))
    rest = [name for name in names if name != "static"]
    if ctx.package is None:
        for name in rest:
            record(CheckResult(name, Status.SKIPPED, "nothing to verify: the static check found no usable server"))
        return [results[name] for name in names]
    in_process = [name for name in rest if name != SERVER_STARTS]
    async with anyio.create_task_group() as background:
        try:
            protocol_done = anyio.Event()
            if SERVER_STARTS in rest:
                emit({"event": "start", "check": SERVER_STARTS})

                async def protocol() -> None:
                    record(await _run_one(ctx, SERVER_STARTS))
                    protocol_done.set()

                background.start_soon(protocol)
            else:
                protocol_done.set()
            if "determinism" in rest:
                ctx.start_other_process(background)
            problem = await ctx.import_server() if in_process else None
            for index, name in enumerate(in_process):
                if problem is not None:
                    record(CheckResult(name, Status.SKIPPED, f"the server does not start here: {problem}"))
                    continue
                now = time.monotonic()
                share = WEIGHTS[name] / sum(WEIGHTS[n] for n in in_process[index:])
                ctx.deadline = now + max(0.0, end - now) * share
                emit({"event": "start", "check": name})
                record(await _run_one(ctx, name))
            await protocol_done.wait()
        finally:
            ctx.release_other_process()
            background.cancel_scope.cancel()  # a second server still starting is not waited for
    return [results[name] for name in names]


async def _run_one(ctx: CheckContext, name: str) -> CheckResult:
    began = time.perf_counter()
    try:
        passed = await CHECKS[name](ctx)
    except Failed as exc:
        return CheckResult(name, Status.FAILED, exc.summary, exc.evidence, time.perf_counter() - began, exc.stats)
    except Skipped as exc:
        return CheckResult(name, Status.SKIPPED, str(exc), (), time.perf_counter() - began)
    except Exception as exc:  # boundary: a check that crashes is reported, and the others still run
        lines = traceback.format_exception(exc)
        tail = [line.rstrip() for line in "".join(lines).splitlines()[-6:]]
        return CheckResult(
            name, Status.FAILED, f"the check could not finish: {type(exc).__name__}: {exc}"[:300], tuple(tail),
            time.perf_counter() - began,
        )  # fmt: skip
    return CheckResult(name, Status.PASSED, passed.summary, (), time.perf_counter() - began, passed.stats)


async def _main(job: dict[str, Any], emit: Emit) -> None:
    target = locate(job["target"])
    options = Options(**job["options"])
    names = ["static", *(n for n in CHECKS if n != "static" and (job.get("checks") is None or n in job["checks"]))]
    with tempfile.TemporaryDirectory(prefix="mcpf-verify-", dir=job.get("workdir")) as scratch:
        ctx = CheckContext(target.label, target.spec_path, target.catalog_env, options, Path(scratch))
        emit({"event": "begin", "env": target.name, "checks": names})
        started = time.perf_counter()
        results = await run_checks(ctx, names, emit)
        emit(
            {
                "event": "done",
                "env": ctx.loaded.spec.name if ctx.loaded else target.name,
                "spec_sha256": ctx.loaded.sha256 if ctx.loaded else None,
                "seconds": time.perf_counter() - started,
                "checks": [r.to_json() for r in results],
            }
        )


def serve(job: dict[str, Any], channel: int) -> NoReturn:
    """Verify the job's environment, writing each event as a JSON line to the `channel` fd; never returns.

    The worker leads its own process group (the runner kills the group), runs
    in the caller's working directory, and writes its stderr to the job's log.
    Anything written to stdout (a server module that prints) lands there too.
    """
    os.setsid()
    os.chdir(job["cwd"])
    log = os.open(job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    os.dup2(log, 1)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mcp").setLevel(logging.CRITICAL)  # the client warns about the unlisted control tools
    FAULTS.install()

    def emit(event: dict[str, Any]) -> None:
        data = memoryview((json.dumps(event) + "\n").encode())
        while data:
            data = data[os.write(channel, data) :]

    status = 0
    try:
        anyio.run(_main, job, emit)
    except BaseException:  # boundary: the runner reports a worker that ends without "done"
        traceback.print_exc()
        status = 1
    finally:
        sys.stderr.flush()
        os._exit(status)  # a server module stuck importing in a daemon thread must not hold up the exit


def fork_server(sock: socket.socket) -> None:
    """Fork one worker per job the runner sends, with everything already imported; hand back its event pipe.

    Jobs come in as JSON messages on `sock` (a SOCK_SEQPACKET socket); each
    answer is `{"id", "pid"}` with the read end of the worker's event pipe
    attached (SCM_RIGHTS). Forking from this small single-threaded process
    avoids both a fresh interpreter per environment (seconds of imports) and
    forking the caller, whose threads and event loop a child must not inherit.
    Returns when the runner closes its end.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    while True:
        message = sock.recv(1 << 20)
        if not message:
            return
        job = json.loads(message)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            _die_with_parent()
            sock.close()
            os.close(read_end)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a worker waits for the servers it starts
            serve(job, write_end)
        os.close(write_end)
        socket.send_fds(sock, [json.dumps({"id": job["id"], "pid": pid}).encode()], [read_end])
        os.close(read_end)


def _die_with_parent() -> None:
    """Ask Linux to kill this worker if the fork server goes (it goes when the runner does)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


if __name__ == "__main__":
    fork_server(socket.socket(fileno=int(sys.argv[1])))
