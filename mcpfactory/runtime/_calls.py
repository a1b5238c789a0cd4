"""The call boundary: run one body on one session and turn what happens into an MCP result.

Two error channels, after the MCP SDK and FastMCP:

- `ToolError(code, **fields)` is a domain failure: the call is refused with the
  tool's declared message for `code`, an `isError` result the model can read,
  with `_meta["io.mcpfactory/error"] = {"code": code}`.
- Any other exception is a bug of the environment: logged with its traceback,
  masked for the model ("Internal error in the environment (fault <id>)"), and
  flagged with `_meta["io.mcpfactory/fault"]` so a harness counts it as an
  environment fault, not as the agent's mistake.

Arguments are validated before the body runs; invalid ones are an `isError`
result naming each bad field. A call's writes are kept only if the body
returns a JSON value and every record it wrote is valid.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import mcp_types as types
import pydantic

from ._bounds import CallBoundExceeded, Watchdog
from ._protocol import ERROR_META_KEY, FAULT_META_KEY
from ._state import Session
from ._tools import ToolDef

__all__ = ["MAX_RESULT_CHARS", "ToolError", "error_result", "run_call", "text_of"]

MAX_RESULT_CHARS = 4_000_000
"""A result's text longer than this is a fault: no model reads it, and it would flood the transport."""

logger = logging.getLogger("mcpfactory.server")

Fault = Callable[[str, BaseException, str], types.CallToolResult]


class ToolError(Exception):
    """A domain failure: the call is refused with the tool's declared message for `code`."""

    def __init__(self, code: str, **fields: Any) -> None:
        super().__init__(code)
        self.code = code
        self.fields = fields


def text_of(value: Any) -> str:
    """The text block of a result: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def error_result(message: str, meta_key: str, meta: dict[str, Any]) -> types.CallToolResult:
    """An `isError` result with `message` as its text and `meta` under `meta_key`."""
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True, _meta={meta_key: meta})


def describe_validation_error(tool: str, error: pydantic.ValidationError) -> tuple[str, list[str]]:
    """The message a model reads for invalid arguments, and the dotted path of each bad field."""
    problems: list[str] = []
    fields: list[str] = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(arguments)"
        fields.append(where)
        got = "" if item["type"] == "missing" else f" (got {json.dumps(item['input'], default=repr)[:80]})"
        problems.append(f"{where}: {item['msg']}{got}")
    return f"Invalid arguments for {tool}: " + "; ".join(problems), fields


def run_call(
    tool: ToolDef,
    session: Session,
    arguments: Mapping[str, Any] | None,
    *,
    validate_record: Callable[[str, str, Any], None],
    fault: Fault,
    watchdog: Watchdog | None = None,
) -> types.CallToolResult:
    """Run `tool` on `session` with `arguments`; return its MCP result. Never raises for a tool's failure."""
    name = tool.name
    try:
        validated = tool.arguments.model_validate(arguments or {})
    except pydantic.ValidationError as exc:
        message, fields = describe_validation_error(name, exc)
        return error_result(message, ERROR_META_KEY, {"code": "invalid_arguments", "fields": fields})
    kwargs = dict(validated.__dict__)
    for injected in tool.injected:
        kwargs[injected] = session.state if injected == "state" else session.rng
    session.writable = tool.effect == "write"
    try:
        with watchdog.bounded() if watchdog is not None else contextlib.nullcontext():
            value = tool.func(**kwargs)
            text = text_of(value)  # inside the boundary: a result that is not JSON is a bug of the body
            if len(text) > MAX_RESULT_CHARS:
                raise ValueError(f"the result is {len(text)} characters long (at most {MAX_RESULT_CHARS})")
            # Two phases, so that one invalid record in any collection discards every write of the call.
            prepared = [
                (collection, collection._prepare(functools.partial(validate_record, collection._name)))
                for collection in session.touched
            ]
        for collection, writes in prepared:
            collection._apply(writes)
    except CallBoundExceeded as exc:
        _rollback(session)
        return fault(name, exc, exc.what)
    except ToolError as exc:
        _rollback(session)
        template = tool.errors.get(exc.code)
        if template is None:
            return fault(name, exc, f"undeclared error code {exc.code!r}")
        try:
            message = template.format_map(exc.fields)
        except (KeyError, IndexError, ValueError) as format_error:
            return fault(name, format_error, f"error template {exc.code!r} could not be filled")
        return error_result(message, ERROR_META_KEY, {"code": exc.code})
    except Exception as exc:  # the boundary: any other failure is a bug of the environment, masked for the model
        _rollback(session)
        return fault(name, exc, "tool body raised")
    finally:
        session.touched.clear()
        session.writable = False
    structured = {"result": value} if tool.wraps_result else value
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured)


def _rollback(session: Session) -> None:
    for collection in session.touched:
        collection._rollback()


def fault_result(env: str, fault_id: str, tool: str, exc: BaseException, what: str) -> types.CallToolResult:
    """Log an environment fault with its traceback and return the masked result the client sees."""
    logger.error("environment fault %s in tool %s: %s", fault_id, tool, what, exc_info=exc)
    return error_result(
        f"Internal error in the environment (fault {fault_id}).",
        FAULT_META_KEY,
        {"kind": "env_fault", "id": fault_id, "tool": tool},
    )
