"""Reach a server's sessions through a real MCP client and classify what each call gives back.

Calls go out as raw `tools/call` requests on the client's session, so the
verifier sees exactly what the server sent: the SDK's own result checks (which
raise on a bad structured result) would hide the evidence the fuzz check wants.
"""

from __future__ import annotations

import logging
import math
import signal
import time
import traceback
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from types import FrameType, ModuleType
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcpfactory.runtime import (
    CONTROL_INVARIANTS,
    CONTROL_RESET,
    CONTROL_SNAPSHOT,
    CONTROL_STATE_HASH,
    ERROR_META_KEY,
    FAULT_META_KEY,
    ConnectionLost,
    ControlError,
    EnvClient,
    canonical_json,
    unwrap,
)
from mcpfactory.verify._stdio import PATIENCE

__all__ = [
    "FAULTS",
    "CallInterrupted",
    "Connection",
    "FaultLog",
    "Outcome",
    "ProbeError",
    "Session",
    "Watchdog",
    "open_memory",
    "open_stdio",
]

Kind = Literal["ok", "error", "invalid", "unknown_tool", "fault", "timeout", "malformed"]
Changes = dict[str, dict[str, Any]]


class FaultLog(logging.Handler):
    """Keep the cause of each environment fault an in-memory server logs, by fault id, for the evidence."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.causes: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if not args or record.exc_info is None or record.exc_info[1] is None:
            return
        exc = record.exc_info[1]
        where = ""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith("server.py"):
                where = f" at server.py:{frame.lineno} `{(frame.line or '').strip()}`"
                break
        self.causes[str(args[0])] = f"{type(exc).__name__}: {exc}{where}"[:300]

    def install(self) -> None:
        """Route the servers' fault log here instead of stderr (the worker calls this once)."""
        log = logging.getLogger("mcpfactory.server")
        log.addHandler(self)
        log.propagate = False


FAULTS = FaultLog()


class ProbeError(Exception):
    """The server answered a control call with an error, or not in the documented shape."""


class CallInterrupted(Exception):
    """Raised inside a tool body that ran past the per-call bound (see `Watchdog`)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One tool call and what came back, classified."""

    tool: str
    arguments: Mapping[str, Any]
    kind: Kind
    value: Any = None  # the unwrapped structured result of a success
    structured: Any = None  # the structured content as sent
    code: str | None = None  # the domain error code, or the fault id
    text: str = ""
    seconds: float = 0.0  # wall time, as the client saw it
    cpu_seconds: float = 0.0  # this thread's CPU time: in memory, the body's own cost, whatever the machine's load

    def comparable(self) -> tuple[str, str | None, str]:
        """What two runs of the same call must agree on (fault ids and timings left out)."""
        if self.kind == "fault":
            return ("fault", None, "")
        if self.kind == "ok":
            return ("ok", None, canonical_json(self.structured))
        return (self.kind, self.code, self.text)

    def call_text(self) -> str:
        return f"{self.tool}({_short(canonical_json(self.arguments), 160)})"

    def describe(self) -> str:
        if self.kind == "ok":
            shown = _short(canonical_json(self.value), 160)
        elif self.kind in ("error", "invalid"):
            shown = f"{self.kind} {self.code}: {_short(self.text, 120)}"
        elif self.kind == "fault":
            cause = FAULTS.causes.get(self.code or "")
            shown = f"environment fault ({cause})" if cause else f"environment fault {self.code}"
        elif self.kind == "timeout":
            shown = f"no result within {self.seconds:.2f} s"
        else:
            shown = f"{self.kind}: {_short(self.text, 120)}"
        return f"{self.call_text()} -> {shown}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hang_bound(call_bound: float) -> float:
    """Wall seconds after which an in-memory call that has not returned is taken for a hang."""
    return max(30.0, 20 * call_bound)


class Watchdog:
    """Interrupt a tool body that runs past the per-call bound, in this process (main thread only).

    A server connected in memory runs its bodies on the verifier's own event
    loop, so a body stuck in a loop would stop everything. SIGALRM fires after
    `bound` seconds; the handler raises `CallInterrupted` only when the
    interrupted frame belongs to the server's module (a body or an invariant),
    so the event loop itself is never interrupted; elsewhere it retries shortly
    after. The runtime turns the exception into a masked fault, and the probe
    reports the call as a timeout. A body stuck inside one C call cannot be
    interrupted; the runner's budget kills the worker then.
    """

    def __init__(self, bound: float, module_files: set[str]) -> None:
        self.bound = bound
        self.files = module_files
        self.fired = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        current = frame
        while current is not None:
            if current.f_code.co_filename in self.files:
                self.fired = True
                raise CallInterrupted(f"tool call ran past {self.bound:.2f} s")
            current = current.f_back
        signal.setitimer(signal.ITIMER_REAL, 0.02)

    @contextmanager
    def armed(self) -> Iterator[None]:
        self.fired = False
        previous = signal.signal(signal.SIGALRM, self._handler)
        signal.setitimer(signal.ITIMER_REAL, self.bound)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


@dataclass
class Connection:
    """One MCP client connection: the listed tools, and sessions reached through it."""

    client: Client
    tools: dict[str, types.Tool]
    watchdog: Watchdog | None
    call_bound: float

    def session(self) -> Session:
        """Return the connection's own session (a handshake-era connection is one session)."""
        return Session(self, keyed=False)

    def fresh(self, prefix: str) -> Session:
        """Return a new session the server opens on its first request (it starts from the seed)."""
        return Session(self, keyed=True)


class Session:
    """One session of the environment: tool calls and the control plane, through the runtime's one client."""

    def __init__(self, connection: Connection, *, keyed: bool) -> None:
        self.connection = connection
        self.client = EnvClient(connection.client, "environment", keyed=keyed)

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> Outcome:
        """Call a tool and classify the result; never raises for what the server answers."""
        conn = self.connection
        watchdog = conn.watchdog
        start = time.perf_counter()
        cpu_start = time.thread_time()
        result: types.CallToolResult | None = None
        try:
            if watchdog is not None:
                with watchdog.armed():
                    result = await self.client.send(tool, arguments)
                fired = watchdog.fired
            else:
                with anyio.move_on_after(conn.call_bound) as scope:
                    result = await self.client.send(tool, arguments)
                fired = scope.cancelled_caught
        except MCPError as exc:
            # A protocol error: the MCP answer to an unknown tool (-32602), or a server that failed the request.
            kind: Kind = "unknown_tool" if exc.code == types.INVALID_PARAMS else "malformed"
            return Outcome(
                tool, arguments, kind, code=str(exc.code), text=exc.message, seconds=time.perf_counter() - start
            )
        except ConnectionLost as exc:
            return Outcome(tool, arguments, "malformed", text=str(exc), seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
        cpu = time.thread_time() - cpu_start
        if fired or result is None:
            return Outcome(tool, arguments, "timeout", seconds=seconds, cpu_seconds=cpu)
        return replace(classify(tool, arguments, result, conn.tools.get(tool), seconds), cpu_seconds=cpu)

    async def control(self, name: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Make a control-plane call; raise `ProbeError` if it fails."""
        try:
            value = await self.client.control(name, arguments)
        except (ControlError, ConnectionLost) as exc:
            raise ProbeError(f"control call {name} failed: {exc}") from None
        if not isinstance(value, dict):
            raise ProbeError(f"control call {name} answered {type(value).__name__}, not an object")
        return value

    async def changes(self) -> Changes:
        """The records this session holds that differ from the seed (`None` for a deletion)."""
        return dict((await self.control(CONTROL_SNAPSHOT, {"scope": "changes"}))["state"])

    async def full_state(self) -> Changes:
        return dict((await self.control(CONTROL_SNAPSHOT, {"scope": "full"}))["state"])

    async def state_hash(self) -> str:
        return str((await self.control(CONTROL_STATE_HASH))["state_sha256"])

    async def invariants(self) -> list[dict[str, str]]:
        return list((await self.control(CONTROL_INVARIANTS))["violations"])

    async def reset(self, initial: Mapping[str, Any] | None = None, seed: int | None = None) -> None:
        """Put the session in a task's initial state: `None` (the seed), a patch, a full state or a scenario."""
        arguments: dict[str, Any] = dict(initial or {})
        if seed is not None:
            arguments["seed"] = seed
        await self.control(CONTROL_RESET, arguments)


def _text(result: types.CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def classify(
    tool: str, arguments: Mapping[str, Any], result: types.CallToolResult, listed: types.Tool | None, seconds: float
) -> Outcome:
    """Turn a `CallToolResult` into an `Outcome` by its documented `_meta` keys."""
    meta = result.meta or {}
    text = _text(result)
    fault = meta.get(FAULT_META_KEY)
    if isinstance(fault, dict):
        return Outcome(tool, arguments, "fault", code=str(fault.get("id")), text=text, seconds=seconds)
    if result.is_error:
        error = meta.get(ERROR_META_KEY)
        code = error.get("code") if isinstance(error, dict) else None
        if not isinstance(code, str):
            return Outcome(tool, arguments, "malformed", text=f"error result without an error code: {text}")
        kind: Kind = "invalid" if code == "invalid_arguments" else "unknown_tool" if code == "unknown_tool" else "error"
        return Outcome(tool, arguments, kind, code=code, text=text, seconds=seconds)
    structured = result.structured_content
    output_schema = listed.output_schema if listed is not None else None
    value = unwrap(structured, output_schema)
    return Outcome(tool, arguments, "ok", value=value, structured=structured, text=text, seconds=seconds)


@asynccontextmanager
async def open_memory(module: ModuleType, *, call_bound: float) -> AsyncIterator[Connection]:
    """Connect in memory to `module.build(control=True)`: a fresh server object, one connection."""
    server = module.build(control=True)
    async with open_on(server, module, call_bound=call_bound) as connection:
        yield connection


@asynccontextmanager
async def open_on(server: Any, module: ModuleType, *, call_bound: float) -> AsyncIterator[Connection]:
    """Open one more connection to an in-memory server object (each is its own handshake-era session)."""
    files = {str(getattr(module, "__file__", ""))}
    async with Client(server, mode="legacy") as client:
        listed = await client.session.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        # The server bounds each call's CPU time itself (mcpfactory.runtime._bounds); this wall-clock
        # watchdog only catches a body that makes no progress at all, so a busy machine never trips it.
        yield Connection(client, tools, Watchdog(hang_bound(call_bound), files), call_bound)


@asynccontextmanager
async def open_stdio(
    params: StdioServerParameters, *, call_bound: float, start_bound: float
) -> AsyncIterator[Connection]:
    """Start a server over stdio and connect; raise `TimeoutError` if it is not listing tools in time.

    A server here is started only after the protocol check proved it starts, so
    the wait is generous (`PATIENCE` times `start_bound`): a busy machine delays
    it, and a verdict must not depend on that. The SDK's stdio client stops the
    process (and its children) when the block exits.
    """
    with anyio.fail_after(start_bound * PATIENCE) as scope:
        async with Client(params, mode="legacy") as client:
            listed = await client.session.list_tools()
            scope.deadline = math.inf  # started: from here on each call has its own bound
            tools = {tool.name: tool for tool in listed.tools}
            yield Connection(client, tools, None, hang_bound(call_bound))
