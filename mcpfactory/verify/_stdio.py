"""A server process spoken to line by line over stdio, with every wait bounded and every line judged.

The SDK's stdio client forgives a server a lot (it logs a line it cannot parse
and reads on), which is right for a client and wrong for a verifier: here every
line on stdout must be a JSON-RPC message, and a server that exits, hangs or
writes anything else is reported with its exit status and the tail of its
stderr. The process runs in its own process group, which `stop` kills whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
import pydantic
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = ["PATIENCE", "ServerProcess", "StdioProblem", "server_command"]

_MAX_LINE = 16 * 1024 * 1024
_STEP_S = 0.5
_PROGRESS_CPU_S = 0.005
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PATIENCE = 12
"""How many times its bound a server that keeps using CPU may take to answer."""


class StdioProblem(Exception):
    """The server broke the stdio transport: it exited, hung, or wrote something that is not JSON-RPC."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stderr_tail = stderr_tail

    def evidence(self) -> list[str]:
        lines = [self.message]
        if self.stderr_tail:
            lines.append("stderr: " + self.stderr_tail)
        return lines


class ServerProcess:
    """One `python -m <package>` process and the JSON-RPC conversation with it."""

    def __init__(self, command: list[str], *, cwd: Path, env: dict[str, str], stderr_path: Path) -> None:
        self.command = command
        self.cwd = cwd
        self.env = env
        self.stderr_path = stderr_path
        self.process: anyio.abc.Process | None = None
        self._stdout: BufferedByteReceiveStream | None = None
        self._next_id = 0
        self.notifications: list[dict[str, Any]] = []

    async def start(self) -> None:
        with self.stderr_path.open("wb") as stderr:
            self.process = await anyio.open_process(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=str(self.cwd),
                env=self.env,
            )
        assert self.process.stdout is not None
        self._stdout = BufferedByteReceiveStream(self.process.stdout)

    def stderr_tail(self, limit: int = 600) -> str:
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        text = " | ".join(line for line in text.strip().splitlines() if line.strip())
        return text if len(text) <= limit else "…" + text[-limit:]

    def problem(self, message: str) -> StdioProblem:
        return StdioProblem(message, self.stderr_tail())

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            await self.process.stdin.send((json.dumps(message) + "\n").encode())
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            raise self.problem(f"the server closed its stdin{self._exit_note()}") from None

    async def request(
        self, method: str, params: dict[str, Any] | None, bound: float, *, patience: float | None = None
    ) -> dict[str, Any]:
        """Send a request and return its result; raise `StdioProblem` on an error, garbage, exit or timeout."""
        reply = await self.exchange(method, params, bound, patience=patience)
        if "error" in reply:
            raise self.problem(f"{method} failed: {json.dumps(reply['error'])[:300]}")
        result = reply["result"]
        if not isinstance(result, dict):
            raise self.problem(f"{method} answered a result that is not an object")
        return result

    async def exchange(
        self, method: str, params: dict[str, Any] | None, bound: float, *, patience: float | None = None
    ) -> dict[str, Any]:
        """Send a request and return the whole reply, result or error; raise `StdioProblem` on garbage, exit or timeout.

        `patience` caps, in seconds, how long a server that keeps using CPU may take (default: PATIENCE x `bound`).
        """
        longest = bound * PATIENCE if patience is None else min(bound * PATIENCE, max(bound, patience))
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        # `bound` is how long the server may go without answering *and* without using any CPU: a busy
        # machine slows a healthy server down but never stops it, so only a server that makes no progress
        # at all is taken for hung. A server that keeps computing gets PATIENCE times longer.
        step = min(_STEP_S, bound)
        waited = idle = 0.0
        last_cpu = self.cpu_seconds()
        while True:
            with anyio.move_on_after(step):
                while True:
                    reply = await self._receive()
                    if reply.get("id") == ident and ("result" in reply or "error" in reply):
                        return reply
                    if "method" in reply and "id" not in reply:
                        self.notifications.append(reply)
            waited += step
            cpu = self.cpu_seconds()
            if cpu is not None and last_cpu is not None and cpu > last_cpu + _PROGRESS_CPU_S:
                idle, last_cpu = 0.0, cpu
            else:
                idle += step
            if idle >= bound:
                raise self.problem(f"no answer to {method} within {bound:.1f} s and no progress (the server hangs)")
            if waited >= longest:
                raise self.problem(f"no answer to {method} within {waited:.0f} s although the server kept running")

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)

    async def _receive(self) -> dict[str, Any]:
        assert self._stdout is not None
        try:
            line = await self._stdout.receive_until(b"\n", _MAX_LINE)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self._reap()
            raise self.problem(f"the server closed stdout{self._exit_note()}") from None
        except anyio.DelimiterNotFound:
            raise self.problem(f"the server wrote a line longer than {_MAX_LINE} bytes") from None
        text = line.decode("utf-8", errors="replace").strip()
        try:
            types.jsonrpc_message_adapter.validate_json(text, by_name=False)
        except (pydantic.ValidationError, ValueError):
            shown = text if len(text) <= 120 else text[:119] + "…"
            raise self.problem(f"the server wrote a line that is not a JSON-RPC message: {shown!r}") from None
        value = json.loads(text)
        assert isinstance(value, dict)
        return value

    async def _reap(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with anyio.move_on_after(1.0):
                await self.process.wait()

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used so far (Linux `/proc`), or None where it cannot be read."""
        if self.process is None:
            return None
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        except (OSError, ValueError, IndexError):
            return None

    def _exit_note(self) -> str:
        code = self.process.returncode if self.process is not None else None
        return f" (it exited with status {code})" if code is not None else ""

    async def close(self, bound: float) -> bool:
        """Close stdin and wait for the server to exit; kill its process group if it does not. True if it exited."""
        if self.process is None:
            return True
        if self.process.stdin is not None:
            with contextlib.suppress(anyio.BrokenResourceError, OSError):
                await self.process.stdin.aclose()
        exited = False
        with anyio.move_on_after(bound):
            await self.process.wait()
            exited = True
        self.kill()
        return exited

    def kill(self) -> None:
        """Kill the server if it still runs."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


def server_command(package: str, *extra: str) -> list[str]:
    """The command that runs `python -m <package>`, killed by the kernel if the verifier dies first.

    The launcher asks Linux for SIGKILL on its parent's death (PR_SET_PDEATHSIG,
    which survives exec) and then becomes the server, so a server that hangs is
    never left behind by a worker the runner had to kill. Elsewhere it only execs.
    """
    return [sys.executable, "-c", _LAUNCHER, "-m", package, *extra]


_LAUNCHER = """\
import ctypes, os, sys
try:
    ctypes.CDLL(None).prctl(1, 9)
except (OSError, AttributeError):
    pass
if os.getppid() == 1:
    sys.exit(1)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""
