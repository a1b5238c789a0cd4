"""Open a client of a catalog server: in memory or over stdio, as the runtime's one client (`EnvClient`)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from mcpfactory.runtime import EnvClient, catalog_root, server_module

__all__ = ["Transport", "connect", "stdio_parameters"]

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
async def connect(env: str, transport: Transport = "memory", *, control: bool = False) -> AsyncIterator[EnvClient]:
    """Yield a client of a handshake-era connection, which is one session of the environment.

    Raises `UnknownEnvironment` for a name the catalog does not hold.
    """
    target: Any
    if transport == "memory":
        target = server_module(env).build(control=control)
    else:
        server_module(env)  # an unknown name fails here, not as a dead subprocess
        target = stdio_parameters(env, *(["--control"] if control else []))
    async with Client(target, mode="legacy") as client:
        listed = await client.list_tools()
        yield EnvClient(client, env, output_schemas={tool.name: tool.output_schema for tool in listed.tools})
