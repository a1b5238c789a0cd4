"""The one client of an environment's server: tool calls and the control plane, over any MCP client.

`EnvClient` wraps a connected `mcp.client.client.Client` (in memory, stdio or
HTTP) and speaks to one session of the environment: the connection's own (a
handshake-era connection is a session), or a keyed one. With `keyed=True` its
first request asks the server for a new session and every later one carries
the key the server issued (`_meta["io.mcpfactory/session"]`); `session_key`
reuses a key issued earlier. The harness's connections, the verifier's
probes, synthesis and `mcpfactory.connect` all use it.

Calls go out as raw `tools/call` requests: the SDK's `Client.call_tool` would
re-list the tools before every call to an unlisted (control) tool and validate
structured results, which would hide what the server really sent.

Errors: a refused control call raises `ControlError`; a broken transport
raises `ConnectionLost`; a call past its deadline raises `TimeoutError`. Both
of the last mark the client `broken`: a session whose state is in doubt (a
late write from an abandoned call) must not be used again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import anyio
import mcp_types as types
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from ._errors import ConnectionLost, ControlError
from ._protocol import (
    CONTROL_CLOSE,
    CONTROL_INVARIANTS,
    CONTROL_PREFIX,
    CONTROL_RESET,
    CONTROL_SECRET_META_KEY,
    CONTROL_SNAPSHOT,
    CONTROL_STATE_HASH,
    CONTROL_VIEW,
    ERROR_META_KEY,
    FAULT_META_KEY,
    NEW_SESSION,
    SESSION_META_KEY,
)

__all__ = ["PROTOCOL_REFUSALS", "TRANSPORT_ERRORS", "EnvClient", "ToolResult", "unwrap"]

MAX_TOOL_PAGES = 100  # a server whose cursor never ends cannot hang a client

# The server's JSON-RPC answers to a request it will not serve: an unknown tool is -32602, as the MCP spec asks.
PROTOCOL_REFUSALS = frozenset({types.INVALID_PARAMS, types.METHOD_NOT_FOUND, types.INVALID_REQUEST})

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    MCPError,
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    OSError,
)
"""What a broken transport raises: a closed connection, a closed stream, a dead pipe, a refused socket."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool call's outcome as a client sees it.

    `value` is the structured result, unwrapped from `{"result": v}` when the
    output schema says the SDK wrapped it; `text` is what a model reads.
    `error` is the `io.mcpfactory/error` meta of a refused call (domain error,
    invalid arguments); `fault` is set for an environment bug.
    """

    text: str
    value: Any = None
    is_error: bool = False
    error: Mapping[str, Any] | None = None
    fault: Mapping[str, Any] | None = None

    @property
    def error_code(self) -> str | None:
        code = (self.error or {}).get("code")
        return code if isinstance(code, str) else None

    @classmethod
    def from_mcp(cls, raw: types.CallToolResult, output_schema: Mapping[str, Any] | None = None) -> ToolResult:
        text = "".join(block.text for block in raw.content if isinstance(block, types.TextContent))
        meta = raw.meta or {}
        structured = raw.structured_content
        error, fault = meta.get(ERROR_META_KEY), meta.get(FAULT_META_KEY)
        return cls(
            text=text,
            value=unwrap(structured, output_schema) if structured is not None else None,
            is_error=bool(raw.is_error),
            error=error if isinstance(error, Mapping) else None,
            fault=fault if isinstance(fault, Mapping) else None,
        )


def unwrap(structured: Any, output_schema: Mapping[str, Any] | None) -> Any:
    """Undo the SDK's `{"result": value}` wrapping of non-object results, judged by the output schema."""
    if (
        isinstance(structured, dict)
        and output_schema is not None
        and set(output_schema.get("properties", {})) == {"result"}
        and output_schema.get("required") == ["result"]
        and set(structured) == {"result"}
    ):
        return structured["result"]
    return structured


class EnvClient:
    """One session of an environment's server, reached through a connected MCP client."""

    def __init__(
        self,
        client: Client,
        env: str,
        *,
        keyed: bool = False,
        session_key: str | None = None,
        control_secret: str | None = None,
        output_schemas: Mapping[str, Mapping[str, Any] | None] | None = None,
    ) -> None:
        self.client = client
        self.env = env
        self.session_key = session_key or (NEW_SESSION if keyed else None)
        self.output_schemas: Mapping[str, Mapping[str, Any] | None] = output_schemas or {}
        self._control_secret = control_secret
        self.broken = False

    def _meta(self, control: bool) -> dict[str, Any]:
        meta: dict[str, Any] = {SESSION_META_KEY: self.session_key} if self.session_key else {}
        if control and self._control_secret:
            meta[CONTROL_SECRET_META_KEY] = self._control_secret
        return meta

    async def send(
        self, name: str, arguments: Mapping[str, Any], *, control: bool = False, timeout: float | None = None
    ) -> types.CallToolResult:
        """Send one raw `tools/call` request and return the server's result as it is.

        A JSON-RPC refusal of the request (an unknown tool) is raised as the
        SDK's `MCPError` and leaves the client usable; any other failure of the
        transport raises `ConnectionLost` and marks the client broken.
        """
        meta = self._meta(control)
        request = types.CallToolRequest(
            params=types.CallToolRequestParams(
                name=name, arguments=dict(arguments), _meta=cast(types.RequestParamsMeta, meta) if meta else None
            )
        )
        try:
            with anyio.fail_after(timeout):
                result = await self.client.session.send_request(request, types.CallToolResult)
        except TimeoutError:
            self.broken = True
            raise
        except MCPError as exc:
            if exc.code in PROTOCOL_REFUSALS:
                raise
            self.broken = True
            raise ConnectionLost(self.env, f"{type(exc).__name__}: {exc}") from exc
        except TRANSPORT_ERRORS as exc:
            self.broken = True
            raise ConnectionLost(self.env, f"{type(exc).__name__}: {exc}") from exc
        issued = (result.meta or {}).get(SESSION_META_KEY)
        if self.session_key == NEW_SESSION and isinstance(issued, str):
            self.session_key = issued
        return result

    async def list_tools(self, *, timeout: float | None = None) -> list[types.Tool]:
        """Return the listed tools (every page; the control plane is never among them)."""
        listed: list[types.Tool] = []
        cursor: str | None = None
        try:
            with anyio.fail_after(timeout):
                for _ in range(MAX_TOOL_PAGES):
                    page = await self.client.session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
                    listed += page.tools
                    cursor = page.next_cursor
                    if cursor is None:
                        break
        except TimeoutError:
            self.broken = True
            raise
        except TRANSPORT_ERRORS as exc:
            self.broken = True
            raise ConnectionLost(self.env, f"tools/list failed: {type(exc).__name__}: {exc}") from exc
        return [tool for tool in listed if not tool.name.startswith(CONTROL_PREFIX)]

    async def call_tool(self, name: str, arguments: Mapping[str, Any], *, timeout: float | None = None) -> ToolResult:
        """Call an agent-facing tool on this session."""
        raw = await self.send(name, arguments, timeout=timeout)
        return ToolResult.from_mcp(raw, self.output_schemas.get(name))

    async def control(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Call a control-plane tool and return its decoded JSON result; raise `ControlError` if refused."""
        try:
            raw = await self.send(name, arguments or {}, control=True, timeout=timeout)
        except MCPError as exc:
            raise ControlError(f"{self.env}: {name} refused: {exc.error.message} (is the control plane on?)") from None
        text = "".join(block.text for block in raw.content if isinstance(block, types.TextContent))
        if raw.is_error:
            raise ControlError(f"{self.env}: {name} refused: {text}")
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ControlError(f"{self.env}: {name} answered with non-JSON text: {text[:200]!r}") from None

    async def reset(
        self,
        initial_state: Mapping[str, Any] | None = None,
        *,
        seed: int | None = None,
        hash: bool = False,
        timeout: float | None = None,
    ) -> str | None:
        """Reset the session to the seed, a patch (`{"patch": ...}`), a full state or a scenario.

        Returns the new state's hash when `hash` is set (the server hashes the
        whole state, so it is computed only on request), else None.
        """
        arguments: dict[str, Any] = dict(initial_state or {})
        if seed is not None:
            arguments["seed"] = seed
        if hash:
            arguments["hash"] = True
        answer = await self.control(CONTROL_RESET, arguments, timeout=timeout)
        digest = answer.get("state_sha256") if isinstance(answer, dict) else None
        return digest if isinstance(digest, str) else None

    async def snapshot(self, scope: Literal["full", "changes"] = "changes", *, timeout: float | None = None) -> Any:
        """Return the session's state (`changes`: the records that differ from the seed, deletions as null)."""
        return (await self.control(CONTROL_SNAPSHOT, {"scope": scope}, timeout=timeout))["state"]

    async def state_hash(self, *, timeout: float | None = None) -> str:
        """Return the canonical SHA-256 of the session's state."""
        return str((await self.control(CONTROL_STATE_HASH, timeout=timeout))["state_sha256"])

    async def invariants(self, *, timeout: float | None = None) -> list[dict[str, str]]:
        """Return the invariants the session's state violates."""
        return list((await self.control(CONTROL_INVARIANTS, timeout=timeout))["violations"])

    async def view(self, name: str, *, timeout: float | None = None) -> Any:
        """Return the named view of the session's state."""
        return (await self.control(CONTROL_VIEW, {"name": name}, timeout=timeout))["view"]

    async def close(self, *, timeout: float | None = None) -> None:
        """Forget the session on the server (its next call starts afresh)."""
        await self.control(CONTROL_CLOSE, timeout=timeout)
