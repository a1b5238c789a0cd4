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

Two declared options of a tool port APIs that speak another convention:

- `render="python"`: the text block is what a Python harness would show for
  the returned value (`python_text`), and the body may return any Python value
  (structured content is then `python_json` of it).
- `error_when`: a predicate over the returned value; a value it accepts comes
  back as an `isError` result with code `returned_error`, and, since the body
  returned, its writes are kept (the API signalled a failure, it did not raise).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import mcp_types as types
import pydantic

from ._bounds import CallBoundExceeded, Watchdog
from ._caller import acting_on, missing_scope
from ._protocol import ERROR_META_KEY, FAULT_META_KEY, RETURNED_ERROR
from ._state import Session
from ._tools import ToolDef
from ._values import FrozenDict, canonical_json

__all__ = ["MAX_RESULT_CHARS", "ToolError", "error_result", "python_json", "python_text", "run_call", "text_of"]

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


def python_text(value: Any) -> str:
    """The text a Python harness shows for a value: a str as it is, a dict as JSON, anything else as str().

    A dict is `json.dumps(value)` (ASCII escapes, insertion order), or `str(value)`
    when it holds something JSON cannot write; only plain dicts (and read-only
    records) count, as `type(value) == dict` does. Lists, tuples and None read as
    Python writes them: `[{'id': 1}]`, `None`. This is how the Berkeley Function
    Calling Leaderboard turns results into the text a model reads.
    """
    if isinstance(value, str):
        return value
    if type(value) is dict or type(value) is FrozenDict:
        try:
            return json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            return str(value)
    return str(value)


def python_json(value: Any) -> Any:
    """A Python value as a JSON value, for the structured content of a `render="python"` tool.

    JSON values stay as they are; dict keys become strings as `json.dumps` writes
    them (`1` -> "1", `True` -> "true", `None` -> "null"), and when two keys of one
    dict would then collide, that dict's non-string keys are written `"#int:1"`;
    tuples become lists; sets become lists sorted by canonical JSON; non-finite
    floats become `{"$float": repr}`; anything else becomes `str(x)`.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, dict):
        keys = [_json_key(key) for key in value]
        if len(set(keys)) < len(keys):
            keys = [key if isinstance(key, str) else f"#{type(key).__name__}:{_json_key(key)}" for key in value]
        return {key: python_json(item) for key, item in zip(keys, value.values(), strict=True)}
    if isinstance(value, list | tuple):
        return [python_json(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((python_json(item) for item in value), key=canonical_json)
    return str(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)  # how json.dumps writes a non-string key
    return str(key)


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
    page = tool.page.take(kwargs) if tool.page is not None else None
    for injected in tool.injected:
        kwargs[injected] = session.state if injected == "state" else session.rng
    session.writable = tool.effect == "write"
    try:
        with watchdog.bounded() if watchdog is not None else contextlib.nullcontext(), acting_on(session):
            if tool.scopes is not None:
                refused = missing_scope(session, tool.scopes)
                if refused is not None:
                    raise ToolError(refused[0], **refused[1])
            value = tool.func(**kwargs)
            if page is not None:
                assert tool.page is not None
                value = tool.page.apply(value, *page)
            # Inside the boundary: a result that cannot be shown, or a rule that crashes, is a bug of the body.
            if tool.render == "python":
                text, structured = python_text(value), python_json(value)
            else:
                text, structured = text_of(value), value
            if len(text) > MAX_RESULT_CHARS:
                raise ValueError(f"the result is {len(text)} characters long (at most {MAX_RESULT_CHARS})")
            returned_error = tool.error_when is not None and bool(tool.error_when(value))
            if tool.wraps_result:
                structured = {"result": structured}
            elif not isinstance(structured, dict):
                raise TypeError(f"the result is a {type(structured).__name__}, but the output schema is an object")
            # Two phases, so that one invalid record in any collection discards every write of the call.
            prepared = [
                (collection, collection._prepare(functools.partial(validate_record, collection._name)))
                for collection in session.touched
            ]
        for collection, writes in prepared:
            collection._apply(writes)
        if session.pending_clock is not None:
            session.clock = session.pending_clock
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
        session.pending_clock = None
    content: list[types.ContentBlock] = [types.TextContent(text=text)]
    if returned_error:
        meta = {ERROR_META_KEY: {"code": RETURNED_ERROR}}
        return types.CallToolResult(content=content, structured_content=structured, is_error=True, _meta=meta)
    return types.CallToolResult(content=content, structured_content=structured)


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
