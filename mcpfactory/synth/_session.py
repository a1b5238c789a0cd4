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
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from mcp.client.client import Client

from mcpfactory.runtime import REFS_META_KEY, EnvClient, UnknownEnvironment

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
        raise UnknownEnvironment(folder.name, f"{folder} (no compiled server; run: mcpfactory compile)")
    digest = hashlib.sha256(str(folder).encode() + b"\0" + server.read_bytes()).hexdigest()[:12]
    package = f"_mcpfactory_env_{digest}"
    if f"{package}.server" in sys.modules:
        return sys.modules[f"{package}.server"]
    spec = importlib.util.spec_from_file_location(
        package, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise UnknownEnvironment(folder.name, f"{folder} (the server package cannot be imported)")
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
    refs: dict[str, str] = field(default_factory=dict)  # parameter -> the collection whose keys it takes


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one call gave: a value, a domain error (`code`), invalid arguments, or an environment fault."""

    ok: bool
    value: Any = None
    text: str = ""
    code: str | None = None
    fault: bool = False


class EnvSession:
    """One named session of an environment, reached through the runtime's one client."""

    def __init__(self, client: Client, tools: dict[str, ToolInfo], description: str, instructions: str) -> None:
        self.client = client
        self.tools = tools
        self.description = description
        self.instructions = instructions
        # An explicitly named session, so control calls and tool calls provably share one state.
        self.env = EnvClient(
            client,
            "draft",
            keyed=True,
            output_schemas={name: tool.output_schema for name, tool in tools.items()},
        )

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> CallResult:
        """Call a tool; never raises for what the server answers."""
        result = await self.env.call_tool(tool, arguments)
        if result.fault is not None:
            return CallResult(False, text=result.text, code="env_fault", fault=True)
        if result.is_error:
            return CallResult(False, text=result.text, code=result.error_code)
        return CallResult(True, value=result.value, text=result.text)

    async def reset(self, initial_state: Mapping[str, Any] | None = None) -> None:
        """Start over from a task's initial state: `None` (the seed), a patch, a full state or a scenario.

        A reset costs what the patch holds, whatever the seed's size (docs/server.md).
        """
        await self.env.reset(initial_state)

    async def changes(self) -> State:
        """The records that differ from the seed, deletions as `None`."""
        return dict(await self.env.snapshot("changes"))

    async def full_state(self) -> State:
        return dict(await self.env.snapshot("full"))

    async def invariant_violations(self) -> list[dict[str, str]]:
        return await self.env.invariants()


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
                    refs=dict((tool.meta or {}).get(REFS_META_KEY) or {}),
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
