"""Replay recorded tool calls on fresh sessions and report results and final state hashes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from mcp.shared.exceptions import MCPError

from mcpfactory.connect import Transport, connect
from mcpfactory.errors import ReplayError
from mcpfactory.runtime._tasks import read_lines_file

__all__ = ["read_calls", "replay"]


MAX_LINE = 4 * 1024 * 1024  # bytes


def read_calls(path: Path) -> list[dict[str, Any]]:
    """Read JSONL lines `{"task", "calls": [{"tool", "arguments"}], "scenario"?}` (or task lines with `solution`).

    Raise `ReplayError` naming the first bad line: unreadable, not UTF-8, too
    long, too deeply nested, not JSON, or not a list of calls.
    """
    try:
        raw = read_lines_file(path)
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReplayError(f"{path}: cannot read: {exc}") from None
    lines: list[dict[str, Any]] = []
    for number, data in enumerate(raw.split(b"\n"), start=1):
        if not data.strip():
            continue
        where = f"{path}:{number}"
        if len(data) > MAX_LINE:
            raise ReplayError(f"{where}: line longer than {MAX_LINE} bytes")
        try:
            line = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ReplayError(f"{where}: not UTF-8 (byte {exc.start + 1})") from None
        except json.JSONDecodeError as exc:
            raise ReplayError(f"{where}: not JSON: {exc.msg} at column {exc.colno}") from None
        except (RecursionError, ValueError) as exc:
            raise ReplayError(
                f"{where}: not JSON: {'nested too deeply' if isinstance(exc, RecursionError) else exc}"
            ) from None
        calls = line.get("calls", line.get("solution")) if isinstance(line, dict) else None
        if not isinstance(calls, list) or not all(
            isinstance(c, dict) and isinstance(c.get("tool"), str) and isinstance(c.get("arguments", {}), dict)
            for c in calls
        ):
            raise ReplayError(f'{where}: expected {{"task", "calls": [{{"tool", "arguments"}}]}}')
        lines.append(line)
    return lines


async def replay(
    env: str, lines: Iterable[dict[str, Any]], transport: Transport = "memory"
) -> AsyncIterator[dict[str, Any]]:
    """Yield, per line, `{"task", "results": [{"ok": v} | {"error": text}], "final_state_sha256"}`.

    Each line runs on its own fresh session over a real MCP client connection.
    """
    async with connect(env, transport, control=True) as client:
        for line in lines:
            await client.reset(_initial_state(line))
            results: list[dict[str, Any]] = []
            for call in _calls(line):
                try:
                    result = await client.call_tool(call["tool"], call.get("arguments") or {})
                except MCPError as exc:  # a protocol error, such as an unknown tool, is that call's answer
                    results.append({"error": exc.error.message})
                    continue
                results.append({"error": result.text} if result.is_error else {"ok": result.value})
            yield {"task": _task_id(line), "results": results, "final_state_sha256": await client.state_hash()}


def _calls(line: dict[str, Any]) -> list[dict[str, Any]]:
    calls = line.get("calls", line.get("solution"))
    assert isinstance(calls, list)
    return calls


def _task_id(line: dict[str, Any]) -> Any:
    return line.get("task", line.get("id"))


def _initial_state(line: dict[str, Any]) -> dict[str, Any]:
    """Reset arguments for a line: a task's `initial_state` (a patch, a full state or a scenario), else the seed."""
    initial = line.get("initial_state") or {}
    if "scenario" in line:
        initial = {"scenario": line["scenario"]}
    return {key: initial[key] for key in ("patch", "state", "scenario") if key in initial}
