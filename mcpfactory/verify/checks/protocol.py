"""protocol: the server starts over stdio, speaks MCP, lists exactly its tools, and hides its control plane."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import anyio
import jsonschema
import mcp_types as types
import pydantic

from mcpfactory.runtime import CONTROL_TOOLS, ERROR_META_KEY
from mcpfactory.verify._stdio import ServerProcess, StdioProblem, server_command
from mcpfactory.verify.checks._base import CheckContext, Evidence, Failed, Passed

__all__ = ["server_speaks_mcp_over_stdio"]

OPENAI_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
PROTOCOL_VERSION = "2025-11-25"
_EXIT_BOUND = 5.0


async def server_speaks_mcp_over_stdio(ctx: CheckContext) -> Passed:
    """Prove `python -m <env>` starts within the bound and behaves as an MCP server over stdio.

    It must answer `initialize`, list exactly the spec's tools with valid
    JSON Schemas (2020-12), names OpenAI-style function calling accepts,
    descriptions and read-only hints that match the spec; answer a call to each
    tool with a well-formed result; refuse the control tools as unknown; write
    nothing but JSON-RPC on stdout; and exit when its stdin closes.
    """
    assert ctx.package is not None and ctx.import_root is not None
    server = ServerProcess(
        server_command(ctx.package),
        cwd=ctx.import_root,
        env={
            "PYTHONPATH": str(ctx.import_root),
            "PATH": os.environ.get("PATH", ""),
            "PYTHONHASHSEED": str(ctx.options.seed),
        },
        stderr_path=ctx.workdir / "protocol-stderr.log",
    )
    bound = ctx.options.call_bound + 2.0
    try:
        await server.start()
        try:
            # A server that spins while starting is told from a slow one by CPU use; give it at most half the
            # check's budget, so that the finding comes with its evidence before the worker is stopped.
            init = await server.request(
                "initialize", _initialize_params(), ctx.options.start_bound, patience=ctx.options.budget / 2
            )
        except StdioProblem as exc:
            ctx.server_starts = False
            raise Failed("the server does not start over stdio", exc.evidence()) from None
        ctx.server_starts = True
        evidence = Evidence()
        _check_initialize(ctx, init, evidence)
        await server.notify("notifications/initialized")
        listed = await _list_tools(server, bound)
        _check_tools(ctx, listed, evidence)
        calls = await _call_each_tool(ctx, server, bound, evidence)
        await _check_control_hidden(server, bound, evidence)
    except StdioProblem as exc:
        raise Failed("the server broke the stdio transport", exc.evidence()) from None
    finally:
        with anyio.CancelScope(shield=True):
            exited = await server.close(_EXIT_BOUND)
    if not exited:
        evidence.add("no exit", f"the server did not exit within {_EXIT_BOUND:.0f} s of its stdin closing (killed)")
    if evidence:
        raise Failed(f"the server breaks the protocol contract: {evidence.summary()}", evidence.lines)
    return Passed(
        f"started over stdio; {len(listed)} tools listed with valid schemas; {calls} calls answered; control plane hidden",
        {"tools": len(listed), "calls": calls},
    )


def _initialize_params() -> dict[str, Any]:
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "mcpfactory-verify", "version": "1"},
    }


def _check_initialize(ctx: CheckContext, init: dict[str, Any], evidence: Evidence) -> None:
    try:
        result = types.InitializeResult.model_validate(init)
    except pydantic.ValidationError as exc:
        evidence.add("bad initialize", f"initialize result does not validate: {exc.errors()[0]['msg']}")
        return
    if result.server_info.name != ctx.spec.spec.name:
        evidence.add("server name", f"serverInfo.name is {result.server_info.name!r}, not {ctx.spec.spec.name!r}")
    if result.capabilities.tools is None:
        evidence.add("no tools capability", "the server does not declare the tools capability")


async def _list_tools(server: ServerProcess, bound: float) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(100):
        page = await server.request("tools/list", {"cursor": cursor} if cursor else {}, bound)
        try:
            result = types.ListToolsResult.model_validate(page)
        except pydantic.ValidationError as exc:
            raise server.problem(f"tools/list result does not validate: {exc.errors()[0]['msg']}") from None
        tools.extend(result.tools)
        cursor = result.next_cursor
        if not cursor:
            break
    return tools


def _check_tools(ctx: CheckContext, listed: list[types.Tool], evidence: Evidence) -> None:
    spec = ctx.spec.spec
    names = [tool.name for tool in listed]
    for name in sorted(set(spec.tools) - set(names)):
        evidence.add("missing tool", f"tool {name} is declared but not listed")
    for name in sorted(set(names) - set(spec.tools)):
        kind = "control tool listed" if name.startswith("_control") else "extra tool"
        evidence.add(kind, f"tool {name} is listed but not declared")
    if len(set(names)) != len(names):
        evidence.add("duplicate tool", "a tool is listed twice")
    for tool in listed:
        if not OPENAI_TOOL_NAME.match(tool.name):
            evidence.add("bad name", f"tool name {tool.name!r} does not match {OPENAI_TOOL_NAME.pattern}")
        if not (tool.description or "").strip():
            evidence.add("no description", f"tool {tool.name} has no description")
        for label, schema in (("inputSchema", tool.input_schema), ("outputSchema", tool.output_schema)):
            if schema is None:
                evidence.add("no schema", f"tool {tool.name} has no {label}")
                continue
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                evidence.add("bad schema", f"{tool.name}.{label} is not a valid 2020-12 schema: {exc.message}")
            if schema.get("type") != "object":
                evidence.add("bad schema", f"{tool.name}.{label} is not an object schema")
        declared = spec.tools.get(tool.name)
        if declared is None:
            continue
        read_only = tool.annotations.read_only_hint if tool.annotations else None
        if read_only is not (declared.effect == "read"):
            evidence.add("read-only hint", f"{tool.name}: readOnlyHint is {read_only}, effect is {declared.effect}")
        properties = set(tool.input_schema.get("properties", {}))
        params = {_wire_name(p) for p in ctx.spec.params[tool.name]}
        required = {_wire_name(p) for p in ctx.spec.params[tool.name] if not p.has_default}
        page = ctx.spec.pages.get(tool.name)
        if page is not None:  # a paged tool's page arguments, which have defaults
            params |= {page.name(role) for role in page.roles}
        if properties != params or set(tool.input_schema.get("required", ())) != required:
            evidence.add(
                "parameters",
                f"{tool.name}: lists parameters {sorted(properties)} (required {sorted(tool.input_schema.get('required', ()))}),"
                f" the spec declares {sorted(params)} (required {sorted(required)})",
            )


async def _call_each_tool(ctx: CheckContext, server: ServerProcess, bound: float, evidence: Evidence) -> int:
    """Call every tool once (its first example, or no arguments) and check the result is well-formed."""
    calls = 0
    for name, tool in ctx.spec.spec.tools.items():
        arguments = tool.examples[0].args if tool.examples else {}
        reply = await server.request("tools/call", {"name": name, "arguments": arguments}, bound)
        calls += 1
        try:
            types.CallToolResult.model_validate(reply)
        except pydantic.ValidationError as exc:
            evidence.add("bad result", f"tools/call {name} result does not validate: {exc.errors()[0]['msg']}")
    return calls


async def _check_control_hidden(server: ServerProcess, bound: float, evidence: Evidence) -> None:
    """A plain client calling a control tool must hear 'unknown tool' (the MCP error, or the runtime's result)."""
    for name in CONTROL_TOOLS:
        reply = await server.exchange("tools/call", {"name": name, "arguments": {}}, bound)
        if "error" in reply:
            if reply["error"].get("code") == types.INVALID_PARAMS:
                continue
            evidence.add("control tool error", f"{name}: unexpected protocol error {json.dumps(reply['error'])[:160]}")
            continue
        result = reply.get("result") or {}
        code = ((result.get("_meta") or {}).get(ERROR_META_KEY) or {}).get("code")
        if not result.get("isError") or code != "unknown_tool":
            evidence.add("control plane visible", f"{name} answered a plain client (expected an unknown-tool error)")


def _wire_name(param: Any) -> str:
    """The argument's name on the wire: its alias when the spec gives one."""
    return str(getattr(param, "wire_name", param.name))
