"""Record each imported tool's examples by calling the compiled server: a success, then its refusals.

The calls run on fresh sessions of the server compiled in a scratch folder,
through a real MCP client in memory. A tool whose sample call faults is a
mapping the importer got wrong; it is reported and left out rather than
shipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic

from mcpfactory.openapi._tools import BuiltTool
from mcpfactory.spec import LoadedSpec
from mcpfactory.synth._session import EnvSession, import_server, open_session

__all__ = ["record_examples"]


_MAX_RESULT = 1000  # characters of JSON: a larger result is not kept as an example (the spec stays small)


async def record_examples(
    folder: Path, data: dict[str, Any], tools: list[BuiltTool], loaded: LoadedSpec
) -> dict[str, str]:
    """Fill `examples` of every tool in `data`; return the tools whose sample call faulted, with why.

    A result is kept only if it validates against the tool's return type as
    the loader reads it (so the spec still loads) and is small.
    """
    module = import_server(folder)
    faulty: dict[str, str] = {}
    validators: dict[Any, Any] = {}
    async with open_session(module) as session:
        for tool in tools:
            examples: list[dict[str, Any]] = []
            calls = [{**tool.good, **tool.optional_extra}]
            if tool.missing is not None:
                calls.append({**tool.good, **tool.missing})
            if tool.in_use is not None:
                calls.append(tool.in_use)
            for index, arguments in enumerate(calls):
                outcome = await _example(session, tool.name, arguments)
                if outcome == "fault" and index == 0:
                    faulty[tool.name] = "its generated body faulted on a sample call"
                    break
                if (
                    isinstance(outcome, dict)
                    and outcome not in examples
                    and _keep(outcome, loaded, tool.name, validators)
                ):
                    examples.append(outcome)
            data["tools"][tool.name]["examples"] = examples
    return faulty


def _keep(example: dict[str, Any], loaded: LoadedSpec, tool: str, validators: dict[Any, Any]) -> bool:
    if "returns" not in example:
        return True
    if len(json.dumps(example["returns"])) > _MAX_RESULT:
        return False
    # Tools of one collection share a return type: build its validator once (a paged tool returns a page of it).
    page = loaded.pages.get(tool)
    key = (loaded.returns[tool].annotation(), None if page is None else page.style)
    if key not in validators:
        validators[key] = loaded.result_validator(tool)
    try:
        validators[key].validate_python(example["returns"], strict=True)
    except pydantic.ValidationError:
        return False
    return True


async def _example(session: EnvSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any] | str | None:
    await session.reset()
    result = await session.call(tool, arguments)
    if result.ok:
        return {"args": arguments, "returns": result.value}
    if result.fault:
        return "fault"
    if result.code and result.code not in ("invalid_arguments", "unknown_tool"):
        return {"args": arguments, "error": result.code}
    return None
