"""What every check shares: how it ends (passed, failed, skipped) and the context it runs in."""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import anyio.abc
from mcp.client.stdio import StdioServerParameters

from mcpfactory.spec import LoadedSpec
from mcpfactory.verify._elsewhere import elsewhere
from mcpfactory.verify._probe import Connection, open_memory, open_stdio
from mcpfactory.verify._stdio import PATIENCE, server_command

__all__ = ["CheckContext", "CheckFn", "Evidence", "Failed", "Options", "Passed", "Skipped"]

MAX_EVIDENCE = 12


@dataclass(frozen=True, slots=True)
class Options:
    """How hard to look: the seed of every random choice, the time budget and the per-call bounds."""

    seed: int = 0
    budget: float = 60.0  # seconds for all checks of one environment
    call_bound: float = 1.0  # seconds one tool call may take
    start_bound: float = 10.0  # seconds a server may take to start over stdio and list its tools


@dataclass(frozen=True, slots=True)
class Passed:
    """A check that found nothing wrong; `summary` says what it covered."""

    summary: str
    stats: dict[str, Any] = field(default_factory=dict)


class Failed(Exception):
    """A check that found a problem; `evidence` lists what it saw, one line each."""

    def __init__(self, summary: str, evidence: Iterable[str] = (), stats: dict[str, Any] | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.evidence = tuple(evidence)
        self.stats = stats or {}


class Skipped(Exception):
    """A check that does not apply or cannot run; the message says why."""


class Evidence:
    """Findings of one check, deduplicated by kind and capped, with a count of all of them."""

    def __init__(self, limit: int = MAX_EVIDENCE, per_kind: int = 1) -> None:
        self.limit = limit
        self.per_kind = per_kind
        self.lines: list[str] = []
        self.kinds: dict[str, int] = {}

    def add(self, kind: str, line: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if self.kinds[kind] <= self.per_kind and len(self.lines) < self.limit:
            self.lines.append(line)

    def __bool__(self) -> bool:
        return bool(self.kinds)

    @property
    def count(self) -> int:
        return sum(self.kinds.values())

    def summary(self) -> str:
        parts = [f"{n} x {kind}" if n > 1 else kind for kind, n in self.kinds.items()]
        return "; ".join(parts)


@dataclass
class CheckContext:
    """Everything a check needs about its environment; filled in by the static check as it proves things."""

    label: str
    spec_path: Path
    catalog_env: str | None
    options: Options
    workdir: Path
    loaded: LoadedSpec | None = None
    package: str | None = None  # importable name of the server package
    import_root: Path | None = None  # the folder it is importable from
    server_starts: bool | None = None  # what the protocol check found; None if it did not run
    deadline: float = float("inf")  # time.monotonic() by which the running check should wrap up
    _module: ModuleType | None = None
    _other: _OtherProcess | None = None

    @property
    def spec(self) -> LoadedSpec:
        assert self.loaded is not None, "the static check runs first"
        return self.loaded

    @property
    def tasks_path(self) -> Path:
        return self.spec_path.parent / "tasks.jsonl"

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    async def import_server(self) -> str | None:
        """Import the server module into this process, within the start bound; return why it failed, or None.

        The import runs in a daemon thread: a module that never finishes
        importing (a hand-edited server, say) is abandoned, not waited for.
        """
        assert self.package is not None and self.import_root is not None
        root = str(self.import_root)
        if root not in sys.path:
            sys.path.insert(0, root)
        outcome: dict[str, Any] = {}

        def load() -> None:
            try:
                outcome["module"] = importlib.import_module(f"{self.package}.server")
            except BaseException as exc:  # boundary: whatever the import raises is the finding
                outcome["error"] = exc

        thread = threading.Thread(target=load, name="verify-import-server", daemon=True)
        thread.start()
        # As for a server over stdio: the import may take as long as it keeps using CPU (a busy machine
        # slows it), up to PATIENCE times the bound; an import that makes no progress for the bound hangs.
        bound = self.options.start_bound
        waited = idle = 0.0
        last_cpu = time.process_time()
        while thread.is_alive() and idle < bound and waited < bound * PATIENCE:
            await anyio.to_thread.run_sync(thread.join, 0.5, abandon_on_cancel=True)
            waited += 0.5
            cpu = time.process_time()
            idle, last_cpu = (0.0, cpu) if cpu > last_cpu + 0.005 else (idle + 0.5, last_cpu)
        if thread.is_alive():
            return f"importing the server module did not finish within {waited:.0f} s"
        if "error" in outcome:
            error = outcome["error"]
            return f"importing the server module raised {type(error).__name__}: {error}"
        self._module = outcome["module"]
        return None

    def module(self) -> ModuleType:
        """The server module, imported by `import_server`."""
        if self._module is None:
            raise Failed("the server module is not imported", ["the worker imports it before in-process checks"])
        return self._module

    @asynccontextmanager
    async def memory(self) -> AsyncIterator[Connection]:
        """Connect in memory to a fresh server object with the control plane on."""
        async with open_memory(self.module(), call_bound=self.options.call_bound) as connection:
            yield connection

    def stdio_parameters(self, *extra: str, hash_seed: int) -> StdioServerParameters:
        """Parameters that start `python -m <package>` as the catalog and the harness do."""
        assert self.package is not None and self.import_root is not None
        command = server_command(self.package, *extra)
        return StdioServerParameters(
            command=command[0],
            args=command[1:],
            cwd=str(self.import_root),
            env={
                "PYTHONPATH": str(self.import_root),
                "PYTHONHASHSEED": str(hash_seed),
                "PATH": os.environ.get("PATH", ""),
            },
        )

    def start_other_process(self, group: anyio.abc.TaskGroup) -> None:
        """Start, in the background, a second server over stdio with control on, elsewhere (see `_elsewhere`).

        It starts while other checks run (a Python start costs seconds); the
        determinism check compares it with the server in memory.
        """
        seed = self.other_hash_seed()
        params = elsewhere(seed).apply(self.stdio_parameters("--control", hash_seed=seed))
        self._other = _OtherProcess()
        group.start_soon(self._other.hold, params, self.options)

    async def other_process(self) -> Connection:
        """The second server started by `start_other_process`; raise `RuntimeError` if it did not start."""
        if self._other is None:
            raise RuntimeError("no second server process was started")
        return await self._other.connection(self.options.start_bound + 5)

    def release_other_process(self) -> None:
        if self._other is not None:
            self._other.release.set()

    def other_hash_seed(self) -> int:
        """A string-hash seed different from this process's, to expose order that depends on it."""
        mine = os.environ.get("PYTHONHASHSEED", "")
        return (int(mine) + 1) % 4_294_967_295 if mine.isdigit() else self.options.seed + 1


class _OtherProcess:
    """A stdio server held open by a background task until released."""

    def __init__(self) -> None:
        self.ready = anyio.Event()
        self.release = anyio.Event()
        self.conn: Connection | None = None
        self.error: str | None = None

    async def hold(self, params: StdioServerParameters, options: Options) -> None:
        try:
            async with open_stdio(params, call_bound=options.call_bound + 2, start_bound=options.start_bound) as conn:
                self.conn = conn
                self.ready.set()
                await self.release.wait()
        except Exception as exc:  # boundary: the failure to start is reported by the check that needs it
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ready.set()

    async def connection(self, bound: float) -> Connection:
        with anyio.move_on_after(bound):
            await self.ready.wait()
        if self.conn is None:
            raise RuntimeError(self.error or f"it did not start within {bound:.0f} s")
        return self.conn


CheckFn = Callable[[CheckContext], Awaitable[Passed]]
