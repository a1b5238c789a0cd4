"""Replay recorded tool calls on fresh sessions and report results and final state hashes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from mcpfactory.connect import Transport, connect, unwrap
from mcpfactory.errors import ReplayError

__all__ = ["read_calls", "replay"]


def read_calls(path: Path) -> list[dict[str, Any]]:
    """Read JSONL lines `{"task", "calls": [{"tool", "arguments"}]}`; raise `ReplayError` naming a bad line."""
    lines: list[dict[str, Any]] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReplayError(f"{path}:{number}: not JSON: {exc.msg}") from None
        calls = line.get("calls") if isinstance(line, dict) else None
        if not isinstance(calls, list) or not all(
            isinstance(c, dict) and isinstance(c.get("tool"), str) for c in calls
        ):
            raise ReplayError(f'{path}:{number}: expected {{"task", "calls": [{{"tool", "arguments"}}]}}')
        lines.append(line)
    return lines


async def replay(
    env: str, lines: Iterable[dict[str, Any]], transport: Transport = "memory"
) -> AsyncIterator[dict[str, Any]]:
    """Yield, per line, `{"task", "results": [{"ok": v} | {"error": text}], "final_state_sha256"}`.

    Each line runs on its own fresh session over a real MCP client connection.
    """
    async with connect(env, transport, control=True) as client:
        tools = {tool.name: tool.output_schema for tool in (await client.list_tools()).tools}
        for line in lines:
            await client.call_tool("_control_reset", {})
            results: list[dict[str, Any]] = []
            for call in line["calls"]:
                result = await client.call_tool(call["tool"], call.get("arguments") or {})
                if result.is_error:
                    text = "".join(getattr(block, "text", "") for block in result.content)
                    results.append({"error": text})
                else:
                    results.append({"ok": unwrap(result.structured_content, tools.get(call["tool"]))})
            digest = await client.call_tool("_control_state_hash", {})
            if digest.is_error:
                raise ReplayError(f"{env}: the server did not answer the state-hash control call")
            state_hash = json.loads(digest.content[0].text)["state_sha256"]  # type: ignore[union-attr]
            yield {"task": line.get("task"), "results": results, "final_state_sha256": state_hash}
