"""Open MCP client connections to catalog servers: in memory, over stdio, or over HTTP."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal, cast

import mcp_types as types
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from mcpfactory.catalog import catalog_root, server_module

__all__ = ["ControlError", "Transport", "connect", "control", "stdio_parameters", "unwrap"]

Transport = Literal["memory", "stdio"]


def stdio_parameters(env: str, *extra: str) -> StdioServerParameters:
    """Parameters that start `python -m servers.<env>` from the catalog's parent folder."""
    root = catalog_root()
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", f"servers.{env}", *extra],
        cwd=str(root.parent),
        env={"PYTHONPATH": str(root.parent), "PATH": os.environ.get("PATH", "")},
    )


@asynccontextmanager
async def connect(env: str, transport: Transport = "memory", *, control: bool = False) -> AsyncIterator[Client]:
    """Yield a connected handshake-era MCP client: one connection is one session of the environment."""
    target: Any
    if transport == "memory":
        target = server_module(env).build(control=control)
    else:
        target = stdio_parameters(env, *(["--control"] if control else []))
    async with Client(target, mode="legacy") as client:
        yield client


def unwrap(structured: Any, output_schema: dict[str, Any] | None) -> Any:
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


async def control(
    client: Client,
    name: str,
    arguments: Mapping[str, Any] | None = None,
    secret: str | None = None,
    session: str | None = None,
) -> Any:
    """Call a control-plane tool and return its JSON answer; raise `ControlError` if it refuses.

    `session` names the explicitly keyed session the call is for (docs/server.md).
    Sent as a raw request: the SDK's `call_tool` would re-list the tools to find
    an output schema for an unlisted tool, and warn, on every call.
    """
    fields = {"io.mcpfactory/control-secret": secret, "io.mcpfactory/session": session}
    meta = cast(types.RequestParamsMeta, {k: v for k, v in fields.items() if v is not None}) or None
    request = types.CallToolRequest(
        params=types.CallToolRequestParams(name=name, arguments=dict(arguments or {}), _meta=meta)
    )
    result = await client.session.send_request(request, types.CallToolResult)
    text = "".join(getattr(block, "text", "") for block in result.content)
    if result.is_error:
        raise ControlError(f"{name}: {text}")
    return json.loads(text)


class ControlError(RuntimeError):
    """A control-plane call that the server refused (control disabled, bad secret, bad arguments)."""
