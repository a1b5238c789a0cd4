"""Sessions on compiled servers, in memory, over stdio or over streamable HTTP.

An `Endpoint` is one environment's server as the harness reaches it; its
`session()` lends a `Connection`, one MCP session, to one episode at a time.
The episode code is the same for every transport:

- `MemoryEndpoint` imports `servers.<env>.server`, builds it with the control
  plane and talks to it through the SDK's in-process client. Sessions are named
  with `_meta["io.mcpfactory/session"]` (docs/server.md), so one client serves
  thousands of concurrent episodes without a handshake per episode.
- `StdioEndpoint` keeps a pool of `python -m servers.<env> --control`
  subprocesses; each process is one session and serves one episode at a time,
  reset between episodes. A process that dies is dropped from the pool.
- `HttpEndpoint` talks to one streamable-HTTP server process (started with
  `spawn_http_server`, or any URL), many named sessions on one process; control
  calls carry the secret.

A connection that timed out or broke is never lent again: a late write from
an abandoned call must not land in the next episode's state.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Literal, Self, TextIO

import anyio
import anyio.abc
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client
from mcp.server.lowlevel import Server

from harness.errors import ConnectionLost, HarnessError, InfraError
from mcpfactory.runtime import (
    NEW_SESSION,
    EnvClient,
    ToolResult,
    UnknownEnvironment,
    catalog_root,
    read_spec_sha256,
    server_module,
)
from mcpfactory.runtime._client import TRANSPORT_ERRORS

__all__ = [
    "Connection",
    "Endpoint",
    "HttpEndpoint",
    "MemoryEndpoint",
    "StdioEndpoint",
    "ToolResult",
    "ToolSpec",
    "Transport",
    "open_endpoint",
    "spawn_http_server",
]

logger = logging.getLogger("harness.connection")

Transport = Literal["memory", "stdio", "http"]

# Closing a client whose server died can also raise RuntimeError from the SDK's teardown.
_CLOSE_ERRORS: tuple[type[BaseException], ...] = (*TRANSPORT_ERRORS, RuntimeError)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the server lists it."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None = None
    read_only: bool | None = None

    def to_openai(self) -> dict[str, Any]:
        """Return the tool in the OpenAI function-calling format (what chat templates and litellm take)."""
        parameters = dict(self.input_schema) or {"type": "object"}
        parameters.setdefault("type", "object")
        parameters.setdefault("properties", {})
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }


class Connection(EnvClient):
    """One session of an environment, lent by its endpoint to one episode.

    The runtime's client (`mcpfactory.runtime.EnvClient`: tool calls, reset,
    snapshot, hash, views) plus what the harness caches per endpoint. A call
    past its deadline or over a broken transport marks it `broken`, and the
    endpoint never lends it again.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        client: Client,
        *,
        session_key: str | None = None,
        keyed: bool = False,
        control_secret: str | None = None,
    ) -> None:
        super().__init__(
            client,
            endpoint.env,
            keyed=keyed,
            session_key=session_key,
            control_secret=control_secret,
            output_schemas=endpoint.output_schemas,
        )
        self.endpoint = endpoint

    async def tools(self) -> list[ToolSpec]:
        """The tools the agent may see (cached by the endpoint; the control plane is never listed)."""
        return await self.endpoint.tools(self)


@dataclass
class _Hosted:
    """A connected client whose context lives in its own task (anyio scopes must exit where they entered)."""

    client: Client
    stop: anyio.Event = field(default_factory=anyio.Event)


class Endpoint:
    """One environment's server as the harness reaches it; use as `async with endpoint:`.

    `session()` lends a `Connection` for one episode. `tools()` and `seed_state()`
    are fetched once and cached.
    """

    transport: Transport

    def __init__(self, env: str, *, spec_sha256: str | None = None, call_timeout: float = 30.0) -> None:
        self.env = env
        self.spec_sha256 = spec_sha256
        self.call_timeout = call_timeout
        self.output_schemas: dict[str, Mapping[str, Any] | None] = {}
        self.instructions: str | None = None
        self._tools: list[ToolSpec] | None = None
        self._seed: dict[str, Any] | None = None
        self._cache_lock = anyio.Lock()
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Self:
        self._tg = await anyio.create_task_group().__aenter__()
        try:
            await self._start()
        except BaseException:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tg is not None
        with anyio.CancelScope(shield=True):
            await self._stop()
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)

    async def _start(self) -> None:
        """Connect what every session shares."""

    async def _stop(self) -> None:
        """Close what `_start` and the sessions opened."""

    def session(self) -> AbstractAsyncContextManager[Connection]:
        """Lend one session for one episode; the episode resets it first."""
        raise NotImplementedError

    async def _host(self, target: Any, mode: str) -> _Hosted:
        """Enter a client in a task of its own and return it once connected."""
        assert self._tg is not None, "use the endpoint as `async with endpoint:`"

        async def run(*, task_status: anyio.abc.TaskStatus[_Hosted]) -> None:
            try:
                async with Client(target, mode=mode, cache=None) as client:
                    self.instructions = client.instructions
                    hosted = _Hosted(client)
                    task_status.started(hosted)
                    await hosted.stop.wait()
            except _CLOSE_ERRORS as exc:
                # A dead server makes closing noisy; the episode already saw ConnectionLost.
                logger.debug("%s: closing a %s client: %r", self.env, self.transport, exc)

        try:
            hosted: _Hosted = await self._tg.start(run)
        except TRANSPORT_ERRORS as exc:
            raise ConnectionLost(self.env, f"cannot connect over {self.transport}: {exc}") from exc
        return hosted

    @property
    def cached_tools(self) -> list[ToolSpec] | None:
        """The tools once a session has listed them, else None."""
        return None if self._tools is None else list(self._tools)

    async def tools(self, connection: Connection) -> list[ToolSpec]:
        """Return (and cache) the listed tools, without the control plane."""
        if self._tools is None:
            async with self._cache_lock:
                if self._tools is None:
                    listed = await connection.list_tools(timeout=self.call_timeout)
                    tools = [
                        ToolSpec(
                            name=tool.name,
                            description=tool.description or "",
                            input_schema=tool.input_schema,
                            output_schema=tool.output_schema,
                            read_only=tool.annotations.read_only_hint if tool.annotations else None,
                        )
                        for tool in listed
                    ]
                    self.output_schemas.update({tool.name: tool.output_schema for tool in tools})
                    self._tools = tools
        return list(self._tools)

    async def seed_state(self, connection: Connection | None = None) -> dict[str, Any]:
        """Return (and cache) the environment's seed state, read once by resetting a session.

        Pass the caller's own `connection` (it is reset) when holding a lease:
        a stdio pool of one has no second session to lend.
        """
        if self._seed is None:
            async with self._cache_lock:
                if self._seed is None:
                    if connection is not None:
                        self._seed = await self._read_seed(connection)
                    else:
                        async with self.session() as lent:
                            self._seed = await self._read_seed(lent)
        return self._seed

    async def _read_seed(self, connection: Connection) -> dict[str, Any]:
        await connection.reset(timeout=self.call_timeout)
        state: dict[str, Any] = await connection.snapshot("full", timeout=self.call_timeout)
        return state


class _KeyedEndpoint(Endpoint):
    """Many sessions over one client, each opened by the server on request; keys are reused after a reset."""

    def __init__(self, env: str, *, control_secret: str | None = None, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.control_secret = control_secret
        self._hosted: _Hosted | None = None
        self._free: list[str] = []

    def _target(self) -> tuple[Any, str]:
        raise NotImplementedError

    async def _start(self) -> None:
        target, mode = self._target()
        self._hosted = await self._host(target, mode)

    async def _stop(self) -> None:
        if self._hosted is not None:
            self._hosted.stop.set()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Connection]:
        assert self._hosted is not None, "use the endpoint as `async with endpoint:`"
        key = self._free.pop() if self._free else None
        connection = Connection(
            self, self._hosted.client, session_key=key, keyed=key is None, control_secret=self.control_secret
        )
        try:
            yield connection
        finally:
            issued = connection.session_key
            if not connection.broken and issued is not None and issued != NEW_SESSION:
                self._free.append(issued)


class MemoryEndpoint(_KeyedEndpoint):
    """An environment's server imported into this process; the default transport."""

    transport: Transport = "memory"

    def __init__(self, server: Server[Any], env: str, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.server = server

    @classmethod
    def from_module(cls, module: ModuleType | str, **kwargs: Any) -> MemoryEndpoint:
        """Build from a generated server module (`servers.<env>.server`, or any importable path)."""
        if isinstance(module, str):
            module = importlib.import_module(module)
        server = module.build(control=True)
        return cls(server, module.ENV_NAME, spec_sha256=getattr(module, "SPEC_SHA256", None), **kwargs)

    def _target(self) -> tuple[Any, str]:
        # The in-process modern path: direct dispatch, no JSON-RPC framing, no handshake.
        return self.server, "auto"


class HttpEndpoint(_KeyedEndpoint):
    """A streamable-HTTP server: many named sessions on one server process."""

    transport: Transport = "http"

    def __init__(self, url: str, env: str, *, control_secret: str | None = None, **kwargs: Any) -> None:
        super().__init__(env, control_secret=control_secret, **kwargs)
        self.url = url

    def _target(self) -> tuple[Any, str]:
        return self.url, "auto"


class StdioEndpoint(Endpoint):
    """A pool of `python -m <module> --control` subprocesses, one session each, reset between episodes."""

    transport: Transport = "stdio"

    def __init__(
        self,
        env: str,
        *,
        module: str | None = None,
        cwd: Path | str | None = None,
        pool_size: int = 1,
        errlog: TextIO | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(env, **kwargs)
        self.module = module or f"servers.{env}"
        self.cwd = Path(cwd) if cwd else catalog_root().parent
        self.pool_size = max(1, pool_size)
        self.errlog = errlog
        self._idle: list[_Hosted] = []
        self._live: list[_Hosted] = []
        self._slots = anyio.Semaphore(self.pool_size)

    def parameters(self) -> StdioServerParameters:
        """The command that starts one server process."""
        environment = {**get_default_environment(), "PYTHONPATH": str(self.cwd)}
        return StdioServerParameters(
            command=sys.executable, args=["-m", self.module, "--control"], cwd=str(self.cwd), env=environment
        )

    async def _stop(self) -> None:
        for hosted in self._live:
            hosted.stop.set()
        self._live.clear()
        self._idle.clear()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Connection]:
        async with self._slots:
            if self._idle:
                hosted = self._idle.pop()
            else:
                transport = stdio_client(self.parameters(), errlog=self.errlog or sys.stderr)
                hosted = await self._host(transport, "legacy")
                self._live.append(hosted)
            connection = Connection(self, hosted.client)
            try:
                yield connection
            finally:
                if connection.broken:
                    self._live.remove(hosted)
                    hosted.stop.set()
                else:
                    self._idle.append(hosted)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def spawn_http_server(
    module: str,
    *,
    cwd: Path | str | None = None,
    port: int | None = None,
    control_secret: str | None = None,
    errlog: TextIO | None = None,
    ready_timeout: float = 30.0,
) -> AsyncIterator[tuple[str, str]]:
    """Start `python -m <module> --http --control` on loopback; yield `(url, control_secret)`; stop it after.

    Raises `InfraError` if the server does not accept connections within `ready_timeout`.
    """
    cwd = Path(cwd) if cwd else catalog_root().parent
    port = port or _free_port()
    secret = control_secret or secrets.token_hex(16)
    command = [sys.executable, "-m", module, "--http", "--port", str(port), "--control", "--control-secret", secret]
    environment = {**os.environ, "PYTHONPATH": str(cwd)}
    process = await anyio.open_process(
        command, cwd=str(cwd), env=environment, stdout=errlog or sys.stderr, stderr=errlog or sys.stderr
    )
    try:
        with anyio.fail_after(ready_timeout):
            delay = 0.02
            while True:
                if process.returncode is not None:
                    raise InfraError(f"{module}: HTTP server exited with status {process.returncode}")
                try:
                    stream = await anyio.connect_tcp("127.0.0.1", port)
                except OSError:
                    await anyio.sleep(delay)  # the server process is still importing; nothing to wait on but time
                    delay = min(delay * 2, 0.5)
                    continue
                await stream.aclose()
                break
        yield f"http://127.0.0.1:{port}/mcp", secret
    except TimeoutError:
        raise InfraError(f"{module}: HTTP server not ready after {ready_timeout} s") from None
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.terminate()
                with anyio.move_on_after(5):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await process.aclose()


@asynccontextmanager
async def open_endpoint(
    env: str,
    transport: Transport = "memory",
    *,
    catalog: Path | None = None,
    pool_size: int = 4,
    url: str | None = None,
    control_secret: str | None = None,
    errlog: TextIO | None = None,
    call_timeout: float = 30.0,
) -> AsyncIterator[Endpoint]:
    """Open a catalog environment's server over `transport` (starting processes as needed) and close it after.

    With `transport="http"` and a `url`, connect to that server instead of starting one.
    """
    root = catalog or catalog_root()
    spec_sha = read_spec_sha256(root / env / "server.py")
    endpoint: Endpoint
    if transport == "memory":
        module = server_module(env, root)
        endpoint = MemoryEndpoint.from_module(module, call_timeout=call_timeout)
        async with endpoint:
            yield endpoint
    elif transport == "stdio":
        if not (root / env / "server.py").exists():
            raise UnknownEnvironment(env, f"{root} (no compiled server; run: mcpfactory compile)")
        endpoint = StdioEndpoint(
            env,
            module=f"{root.name}.{env}",
            cwd=root.parent,
            pool_size=pool_size,
            errlog=errlog,
            spec_sha256=spec_sha,
            call_timeout=call_timeout,
        )
        async with endpoint:
            yield endpoint
    elif transport == "http":
        if url is not None:
            async with HttpEndpoint(
                url, env, control_secret=control_secret, spec_sha256=spec_sha, call_timeout=call_timeout
            ) as endpoint:
                yield endpoint
            return
        async with spawn_http_server(f"{root.name}.{env}", cwd=root.parent, errlog=errlog) as (address, secret):
            endpoint = HttpEndpoint(
                address, env, control_secret=secret, spec_sha256=spec_sha, call_timeout=call_timeout
            )
            async with endpoint:
                yield endpoint
    else:
        raise HarnessError(f"unknown transport {transport!r} (memory, stdio or http)")
