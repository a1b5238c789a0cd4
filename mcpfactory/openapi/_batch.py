"""Import a folder of documents: each in its own process under a deadline, `jobs` at a time, resumable.

Each finished document appends one JSON line to `<out_root>/import-results.jsonl`
(keyed by the document's name and sha256), so an interrupted batch started again
skips what it already did. At the end the lines become a table,
`<out_root>/import-results.md`: document, operations, tools, reported, verified, time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from mcpfactory.openapi._document import snake
from mcpfactory.verify import Options

__all__ = ["BatchResult", "documents_in", "import_folder"]

RESULTS = "import-results.jsonl"
TABLE = "import-results.md"
_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass
class BatchResult:
    """The rows of a batch (this run's and those resumed), in document order."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0

    @property
    def imported(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("imported")]

    def totals(self) -> dict[str, Any]:
        imported = self.imported
        operations = sum(r.get("operations", 0) for r in imported)
        tools = sum(r.get("tools", 0) for r in imported)
        checked = [r for r in imported if "verified" in r]
        return {
            "documents": len(self.rows),
            "imported": len(imported),
            "operations": operations,
            "tools": tools,
            "stubs": sum(r.get("stubs", 0) for r in imported),
            "reported": sum(r.get("reported", 0) for r in imported),
            "verified": sum(1 for r in checked if r["verified"]),
            "checked": len(checked),
        }

    def summary(self) -> str:
        t = self.totals()
        text = (
            f"{t['imported']}/{t['documents']} document(s) imported; {t['tools']}/{t['operations']} operation(s) "
            f"became tools ({t['stubs']} stub(s)), {t['reported']} reported with a reason"
        )
        if t["checked"]:
            text += f"; {t['verified']}/{t['checked']} verified"
        return text


def documents_in(folder: Path) -> list[Path]:
    """The documents of a folder, by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)


def env_name_for(document: Path) -> str:
    """An environment name from a document's file name (titles repeat; file names do not)."""
    name = snake(document.stem)[:48].strip("_")
    return name if name and name[0].isalpha() else f"api_{name}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_results(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    done: dict[tuple[str, str], dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interruption: that document runs again
        if isinstance(row, dict) and "document" in row and "sha256" in row:
            done[(row["document"], row["sha256"])] = row
    return done


class _ForkServer:
    """The importer's fork server (`mcpfactory.openapi._worker`), started once per batch."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcpfactory.openapi._worker", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.sock = ours
        self.lock = threading.Lock()

    def start(self, job: dict[str, Any]) -> tuple[int, int]:
        with self.lock:
            self.sock.sendall(json.dumps(job).encode())
            message, fds, _, _ = socket.recv_fds(self.sock, 4096, 1)
        if not message or not fds:
            raise RuntimeError(f"the importer's fork server stopped (status {self.process.poll()})")
        return int(json.loads(message)["pid"]), fds[0]

    def close(self) -> None:
        self.sock.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _run_one(server: _ForkServer, document: Path, out_root: Path, *, timeout: float) -> dict[str, Any]:
    name = env_name_for(document)
    began = time.perf_counter()
    pid, channel = server.start({"document": str(document), "out_root": str(out_root), "name": name})
    chunks: list[bytes] = []
    deadline = began + timeout
    timed_out = False
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([channel], [], [], left)
            if not ready:
                continue
            chunk = os.read(channel, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(channel)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    row: dict[str, Any] = {"document": document.name, "env": name}
    if timed_out:
        return {**row, "imported": False, "error": f"timed out after {timeout:.0f} s", "seconds": timeout}
    try:
        row = json.loads(b"".join(chunks))
    except json.JSONDecodeError:
        return {**row, "imported": False, "error": "the import process died", "seconds": time.perf_counter() - began}
    row["wall_seconds"] = time.perf_counter() - began
    return row


class _Progress:
    """A progress bar on a terminal; a line every tenth of the way otherwise."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.done = 0
        self.imported = 0
        self.verified = 0
        self.lock = threading.Lock()
        self.tty = stream.isatty()
        self.began = time.perf_counter()

    def advance(self, row: dict[str, Any]) -> None:
        with self.lock:
            self.done += 1
            self.imported += bool(row.get("imported"))
            self.verified += bool(row.get("verified"))
            elapsed = time.perf_counter() - self.began
            text = f"{self.done}/{self.total} imported {self.imported} verified {self.verified} ({elapsed:.0f} s)"
            if self.tty:
                filled = int(30 * self.done / max(self.total, 1))
                self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {text}")
                if self.done == self.total:
                    self.stream.write("\n")
            elif self.done == self.total or self.done % max(1, self.total // 10) == 0:
                self.stream.write(text + "\n")
            self.stream.flush()


def import_folder(
    folder: Path,
    out_root: Path,
    *,
    verify: bool = False,
    jobs: int | None = None,
    budget: float = 60.0,
    start_bound: float = 30.0,
    timeout: float = 600.0,
    limit: int | None = None,
    progress: TextIO | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> BatchResult:
    """Import every document of `folder` into `out_root`, skipping those a previous run finished.

    With `verify`, each imported environment is verified with `budget` seconds
    and `start_bound` seconds to start its server (a large imported server
    imports slowly on a loaded machine; the verifier's default is 10 s).
    """
    out_root.mkdir(parents=True, exist_ok=True)
    documents = documents_in(folder)[:limit] if limit is not None else documents_in(folder)
    results_path = out_root / RESULTS
    done = _read_results(results_path)
    digests = {doc: _digest(doc) for doc in documents}
    rows: dict[Path, dict[str, Any]] = {}
    todo: list[Path] = []
    for doc in documents:
        previous = done.get((doc.name, digests[doc]))
        if previous is not None and (not verify or "verified" in previous or not previous.get("imported")):
            rows[doc] = previous
        else:
            todo.append(doc)
    bar = _Progress(len(todo), progress) if progress is not None and todo else None
    lock = threading.Lock()
    with results_path.open("a", encoding="utf-8") as sink:

        def record(doc: Path, row: dict[str, Any]) -> None:
            row["sha256"] = digests[doc]
            with lock:
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                sink.flush()
                os.fsync(sink.fileno())
                rows[doc] = row

        server = _ForkServer()
        try:

            def work(doc: Path) -> None:
                previous = rows.get(doc)
                row = previous if previous is not None and previous.get("imported") else None
                if row is None:
                    row = _run_one(server, doc, out_root, timeout=timeout)
                    record(doc, row)  # kept at once: a batch stopped while verifying resumes at the verifier
                    if (not verify or not row.get("imported")) and bar is not None:
                        bar.advance(row)
                elif bar is not None and not verify:
                    bar.advance(row)

            with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
                list(pool.map(work, todo))
        finally:
            server.close()
        if verify:
            options = Options(budget=budget, start_bound=start_bound)
            _verify(out_root, [d for d in todo if rows[d].get("imported")], rows, record, bar, jobs, options)
    if on_row is not None:
        for doc in todo:
            on_row(rows[doc])
    result = BatchResult([rows[doc] for doc in documents if doc in rows], resumed=len(documents) - len(todo))
    (out_root / TABLE).write_text(table(result), encoding="utf-8")
    return result


def _verify(
    out_root: Path,
    documents: list[Path],
    rows: dict[Path, dict[str, Any]],
    record: Callable[[Path, dict[str, Any]], None],
    bar: _Progress | None,
    jobs: int | None,
    options: Options,
) -> None:
    """Verify the imported environments in parallel (the verifier's own workers) and record each row."""
    from mcpfactory.verify import verify_envs

    targets = {str(out_root / rows[doc]["env"] / "spec.yaml"): doc for doc in documents}

    def done(report: Any) -> None:
        doc = targets[report.target]
        row = dict(rows[doc])
        row["verified"] = report.ok
        row["verify_seconds"] = report.seconds
        if not report.ok:
            row["failed_checks"] = {c.name: c.summary for c in report.failed}
        record(doc, row)
        if bar is not None:
            bar.advance(row)

    if targets:
        verify_envs(list(targets), options=options, jobs=jobs, on_report=done)


def table(result: BatchResult) -> str:
    """The results as a Markdown table, one row per document, with the totals below."""
    lines = [
        "| document | operations | tools | reported | verified | time (s) |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in result.rows:
        if row.get("imported"):
            verified = "-" if "verified" not in row else "yes" if row["verified"] else "no"
            seconds = row.get("seconds", 0.0) + row.get("verify_seconds", 0.0)
            lines.append(
                f"| {row['document']} | {row['operations']} | {row['tools']} | {row['reported']} | {verified} "
                f"| {seconds:.1f} |"
            )
        else:
            error = str(row.get("error", "failed")).replace("|", "\\|").replace("\n", " ")[:160]
            lines.append(f"| {row['document']} | - | - | - | not imported: {error} | {row.get('seconds', 0.0):.1f} |")
    lines += ["", result.summary(), ""]
    return "\n".join(lines)
