"""Import one document in its own process, forked by a server that imported the importer once.

`python -m mcpfactory.openapi._worker FD` is the fork server a batch starts:
each job it receives is run in a forked child that leads its own process
group, so a document that exhausts memory, recurses or hangs costs only that
child, which the batch kills at its deadline. A child writes one JSON object
(the document's outcome, its time and peak memory) down a pipe whose read end
the server hands back.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["import_one"]


def _cpu_seconds() -> float:
    """CPU time of this process and the processes it waited for (the formatter): steadier than wall time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def import_one(document: Path, out_root: Path, name: str) -> dict[str, Any]:
    """Import `document` as `out_root/<name>` and write its report beside the spec; return its row."""
    import anyio

    from mcpfactory.errors import MCPFactoryError
    from mcpfactory.openapi import import_openapi, write_environment

    began, cpu = time.perf_counter(), _cpu_seconds()
    row: dict[str, Any] = {"document": document.name, "env": name, "bytes": document.stat().st_size}
    try:
        imported = anyio.run(lambda: import_openapi(document, name=name))
        folder = write_environment(imported, out_root, force=True)
    except (MCPFactoryError, RecursionError, MemoryError, OSError) as exc:
        row.update(imported=False, error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - began)
        row["peak_mb"] = _peak_mb()
        return row
    imported.report.write(folder / "import-report.json")
    report = imported.report
    row.update(
        imported=True,
        operations=len(report.operations),
        tools=report.tools,
        stubs=report.stubs,
        reported=len(report.left_out),
        kinds=report.kinds(),
        seconds=time.perf_counter() - began,
        cpu_seconds=_cpu_seconds() - cpu,
        peak_mb=_peak_mb(),
    )
    return row


def _current_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as stats:
            return int(stats.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _child(job: dict[str, Any], write: int) -> None:
    """Run one job in a forked child and write its row down `write`; never returns."""
    code = 0
    try:
        os.setsid()  # its own process group, so a deadline kills whatever it started
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        base = _current_mb()
        row = import_one(Path(job["document"]), Path(job["out_root"]), job["name"])
        row["base_mb"] = base
        data = json.dumps(row, ensure_ascii=False).encode()
        with os.fdopen(write, "wb") as sink:
            sink.write(data)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def serve(fd: int) -> None:
    """The fork server: import once, then fork one child per job received on the socket `fd`.

    Each job is a JSON object (document, out_root, name); the answer is the
    child's pid with the read end of a pipe on which the child writes its row.
    """
    import anyio  # noqa: F401 - imported once here so that every forked child starts warm

    import mcpfactory.openapi  # noqa: F401

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    with socket.socket(fileno=fd) as sock:
        while True:
            message = sock.recv(1 << 16)
            if not message:
                return
            job = json.loads(message)
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                sock.close()
                _child(job, write)
            os.close(write)
            socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [read])
            os.close(read)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcpfactory.openapi._worker")
    parser.add_argument("fd", type=int, help="the socket to read jobs from")
    args = parser.parse_args(argv)
    serve(args.fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
