"""BFCL's call strings (`cd(folder='document')`, `sort('report.pdf')`) as tool calls, and back.

Ground-truth calls are parsed with `ast` and their arguments read with
`ast.literal_eval` on each argument node: nothing is ever evaluated, so a
string that is not a plain call of literals is a `BFCLError`, not code that
runs. Positional arguments are bound to names in the tool's parameter order,
as Python binds them when BFCL's harness evaluates the string.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import BFCLError

__all__ = ["MAX_CALL_LENGTH", "call_string", "parse_call"]

MAX_CALL_LENGTH = 100_000  # characters; BFCL's longest ground-truth call is under 1,000


def parse_call(text: str, params: Mapping[str, Sequence[str]], *, where: str = "") -> tuple[str, dict[str, Any]]:
    """Return `(tool, arguments)` for one call string; `params` gives each known tool's parameter names in order.

    Raises `BFCLError` (located by `where`) for anything but a call of a known
    tool with literal arguments that JSON can hold.
    """
    where = f"{where}: {text[:80]!r}" if where else repr(text[:80])
    if not isinstance(text, str) or len(text) > MAX_CALL_LENGTH:
        raise BFCLError(f"a call is a string of at most {MAX_CALL_LENGTH} characters", where=where)
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise BFCLError(f"not a Python call: {exc.__class__.__name__}", where=where) from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise BFCLError("not a call of a function by its name", where=where)
    tool = node.func.id
    if tool not in params:
        raise BFCLError(f"{tool!r} is not a tool of the task's environments", where=where)
    order = list(params[tool])
    if len(node.args) > len(order):
        raise BFCLError(f"{tool} takes {len(order)} argument(s), {len(node.args)} given by position", where=where)
    arguments: dict[str, Any] = {}
    for name, value in zip(order, node.args, strict=False):
        if isinstance(value, ast.Starred):
            raise BFCLError("*args are not literals", where=where)
        arguments[name] = _literal(value, where)
    for keyword in node.keywords:
        if keyword.arg is None:
            raise BFCLError("**kwargs are not literals", where=where)
        if keyword.arg in arguments:
            raise BFCLError(f"argument {keyword.arg!r} given twice", where=where)
        if keyword.arg not in order:
            raise BFCLError(f"{tool} has no parameter {keyword.arg!r}", where=where)
        arguments[keyword.arg] = _literal(keyword.value, where)
    return tool, arguments


def _literal(node: ast.expr, where: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise BFCLError("an argument is not a literal", where=where) from None
    return _json(value, where)


def _json(value: Any, where: str) -> Any:
    """The literal as a JSON value: tuples become lists; sets, bytes, complex and non-finite numbers are refused."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BFCLError("a number JSON cannot hold", where=where)
        return value
    if isinstance(value, list | tuple):
        return [_json(item, where) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise BFCLError("an object whose keys are not all strings", where=where)
        return {key: _json(item, where) for key, item in value.items()}
    raise BFCLError(f"a {type(value).__name__} argument JSON cannot hold", where=where)


def call_string(tool: str, arguments: Mapping[str, Any]) -> str:
    """The call as BFCL's harness writes a function-calling model's call before executing it: `name(k=repr(v),...)`."""
    return f"{tool}({','.join(f'{name}={value!r}' for name, value in arguments.items())})"
