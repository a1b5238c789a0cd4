"""MCP tools as Python functions with a real signature and a Google-style docstring.

Trainers that take tools as Python callables (TRL's `environment_factory`)
render them to JSON Schema with `transformers.utils.get_json_schema`, which
reads the type hints and the docstring's `Args:` section. This module goes
the other way, from a tool's input schema to hints and a docstring that
render back to the same names, types, enums and required fields (nested
objects become `dict`, whose inner shape the hints cannot carry).
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union

from harness.connection import ToolSpec
from harness.schema import resolve_ref

__all__ = ["parameters_of", "python_hint", "tool_function"]

_SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict}


def python_hint(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """The Python type hint that `get_json_schema` turns back into `schema` (as closely as hints can say)."""
    schema = resolve_ref(schema, root)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str | int | float | bool) for v in enum):
        return Literal.__getitem__(tuple(enum))
    if "const" in schema and isinstance(schema["const"], str | int | float | bool):
        return Literal.__getitem__(schema["const"])
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list) and options:
        hints = tuple(dict.fromkeys(python_hint(option, root) for option in options))
        return hints[0] if len(hints) == 1 else Union[hints]  # noqa: UP007 - built from a runtime tuple
    kind = schema.get("type")
    if isinstance(kind, list):
        hints = tuple(dict.fromkeys(python_hint({**schema, "type": k}, root) for k in kind))
        return hints[0] if len(hints) == 1 else Union[hints]  # noqa: UP007 - built from a runtime tuple
    if kind == "null":
        return type(None)
    if kind == "array":
        items = schema.get("items")
        return list.__class_getitem__(python_hint(items, root)) if isinstance(items, Mapping) and items else list
    if isinstance(kind, str) and kind in _SCALARS:
        return _SCALARS[kind]
    if "properties" in schema:
        return dict
    return str  # an untyped parameter: the model writes text


def _line(text: str) -> str:
    return " ".join(text.split())


def parameters_of(schema: Mapping[str, Any]) -> tuple[list[inspect.Parameter], dict[str, Any], set[str]]:
    """Keyword-only parameters (with hints) for an input schema, their hints, and the required names.

    Optional parameters default to None: the default only makes them optional
    in a rendered schema; a call leaves them out. A parameter whose name is
    not a Python identifier cannot be a keyword argument: `ValueError`.
    """
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    parameters = []
    annotations: dict[str, Any] = {}
    for name, prop in properties.items():
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"parameter {name!r} is not a Python identifier")
        prop = resolve_ref(prop, schema) if isinstance(prop, Mapping) else {}
        hint = python_hint(prop, schema)
        default = inspect.Parameter.empty if name in required else None
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint))
        annotations[name] = hint
    return parameters, annotations, required


def tool_function(tool: ToolSpec, call: Callable[[Any, str, dict[str, Any]], str]) -> Callable[..., str]:
    """A method `tool.name(self, **arguments) -> str` that calls `call(self, tool.name, arguments)`.

    Its signature, annotations and Google-style docstring describe the tool's
    input schema (see `parameters_of`).
    """

    def method(self: Any, **arguments: Any) -> str:
        return call(self, tool.name, arguments)

    schema = dict(tool.input_schema)
    try:
        parameters, annotations, _ = parameters_of(schema)
    except ValueError as exc:
        raise ValueError(f"tool {tool.name}: {exc}") from None
    properties = schema.get("properties") or {}
    lines = []
    for parameter in parameters:
        prop = resolve_ref(properties[parameter.name], schema)
        lines.append(f"    {parameter.name}: {_line(str(prop.get('description') or parameter.name.replace('_', ' ')))}")
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    method.__signature__ = inspect.Signature([self_parameter, *parameters], return_annotation=str)  # type: ignore[attr-defined]
    method.__annotations__ = {**annotations, "return": str}
    method.__name__ = method.__qualname__ = tool.name
    description = _line(tool.description) or tool.name.replace("_", " ")
    method.__doc__ = description + ("\n\nArgs:\n" + "\n".join(lines) if lines else "") + "\n\nReturns:\n    The result."
    return method
