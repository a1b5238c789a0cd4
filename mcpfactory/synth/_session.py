"""Reach a compiled environment through a real MCP client: its tools, calls and the control plane.

Synthesis loads servers from any folder (the catalog, or a temporary folder
holding a draft), so the package is imported under a name derived from its
path rather than as `servers.<env>`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import mcp_types as types
from mcp.client.client import Client

from mcpfactory.connect import control, unwrap
from mcpfactory.runtime import ERROR_META_KEY, FAULT_META_KEY, SESSION_META_KEY

__all__ = ["CallResult", "EnvSession", "ToolInfo", "import_server", "open_session", "open_sessions"]

State = dict[str, dict[str, Any]]


def import_server(folder: Path) -> ModuleType:
    """Import the compiled server in `folder` (which holds `server.py`) and return its `server` module.

    The package gets a private name from its resolved path and the source's
    hash, so a folder recompiled in place is imported afresh.
    """
    folder = folder.resolve()
    server = folder / "server.py"
    if not server.exists():
        raise LookupError(f"{folder} holds no compiled server (run: mcpfactory compile {folder / 'spec.yaml'})")
    digest = hashlib.sha256(str(folder).encode() + b"\0" + server.read_bytes()).hexdigest()[:12]
    package = f"_mcpfactory_env_{digest}"
    if f"{package}.server" in sys.modules:
        return sys.modules[f"{package}.server"]
    spec = importlib.util.spec_from_file_location(
        package, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise LookupError(f"cannot import the server package in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{package}.server")


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """A listed tool: its schemas and whether it only reads."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    read_only: bool


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one call gave: a value, a domain error (`code`), invalid arguments, or an environment fault."""

    ok: bool
    value: Any = None
    text: str = ""
    code: str | None = None
    fault: bool = False


class EnvSession:
    """One handshake-era connection, which is one session of the environment."""

    def __init__(self, client: Client, tools: dict[str, ToolInfo], description: str, instructions: str) -> None:
        self.client = client
        self.tools = tools
        self.description = description
        self.instructions = instructions
        # An explicitly named session, so control calls and tool calls provably share one state.
        self._key = f"synth-{id(self):x}"

    async def _raw(self, name: str, arguments: Mapping[str, Any]) -> types.CallToolResult:
        # A raw request: the SDK's call_tool would validate results against schemas it re-lists.
        meta = cast(types.RequestParamsMeta, {SESSION_META_KEY: self._key})
        params = types.CallToolRequestParams(name=name, arguments=dict(arguments), _meta=meta)
        return await self.client.session.send_request(types.CallToolRequest(params=params), types.CallToolResult)

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> CallResult:
        """Call a tool; never raises for what the server answers."""
        result = await self._raw(tool, arguments)
        text = "".join(getattr(block, "text", "") for block in result.content)
        meta = result.meta or {}
        if isinstance(meta.get(FAULT_META_KEY), dict):
            return CallResult(False, text=text, code="env_fault", fault=True)
        if result.is_error:
            error = meta.get(ERROR_META_KEY)
            code = error.get("code") if isinstance(error, dict) else None
            return CallResult(False, text=text, code=str(code) if code is not None else None)
        listed = self.tools.get(tool)
        value = unwrap(result.structured_content, listed.output_schema if listed else None)
        return CallResult(True, value=value, text=text)

    async def _control(self, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        return await control(self.client, name, arguments, session=self._key)

    async def reset(self, initial_state: Mapping[str, Any] | None = None) -> None:
        """Start over from a task's initial state: `None` (the seed), `{"patch": ...}` or `{"state": ...}`.

        A reset costs what the patch holds, whatever the seed's size (docs/server.md).
        """
        await self._control("_control_reset", dict(initial_state or {}))

    async def changes(self) -> State:
        """The records that differ from the seed, deletions as `None`."""
        return dict((await self._control("_control_snapshot", {"scope": "changes"}))["state"])

    async def full_state(self) -> State:
        return dict((await self._control("_control_snapshot", {"scope": "full"}))["state"])

    async def invariant_violations(self) -> list[dict[str, str]]:
        return list((await self._control("_control_invariants"))["violations"])


@asynccontextmanager
async def open_sessions(module: ModuleType, count: int = 1) -> AsyncIterator[list[EnvSession]]:
    """Connect `count` clients in memory to one `module.build(control=True)`; each is its own session."""
    server = module.build(control=True)
    env = getattr(module, "env", None)
    description = str(getattr(env, "description", "") or "")
    instructions = str(getattr(module, "POLICY", "") or "")
    async with AsyncExitStack() as stack:
        sessions = []
        for _ in range(count):
            client = await stack.enter_async_context(Client(server, mode="legacy"))
            listed = await client.session.list_tools()
            tools = {
                tool.name: ToolInfo(
                    name=tool.name,
                    description=tool.description or "",
                    input_schema=dict(tool.input_schema),
                    output_schema=dict(tool.output_schema) if tool.output_schema else None,
                    read_only=bool(tool.annotations and tool.annotations.read_only_hint),
                )
                for tool in listed.tools
            }
            sessions.append(EnvSession(client, tools, description, instructions))
        yield sessions


@asynccontextmanager
async def open_session(module: ModuleType) -> AsyncIterator[EnvSession]:
    """Connect one client in memory to `module.build(control=True)` and list its tools."""
    async with open_sessions(module, 1) as sessions:
        yield sessions[0]
