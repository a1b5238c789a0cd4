"""Tool definitions: a body's signature becomes an argument model and the MCP tool's JSON Schemas.

`tool_def` reads a generated body (typed keyword parameters, a return
annotation, a docstring) and builds what the call boundary needs: a strict
pydantic model for the arguments (unknown keys and wrong types are refused,
never coerced), the input and output schemas the tool is listed with, and
whether the SDK convention wraps a non-object result as `{"result": value}`.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import mcp_types as types
import pydantic
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import CoreSchema

from ._caller import AUTH_ERRORS
from ._pages import Paging
from ._protocol import REFS_META_KEY

__all__ = ["INJECTED", "Effect", "Render", "ToolDef", "tool_def"]

Effect = Literal["read", "write"]
Render = Literal["json", "python"]
"""How a result becomes its text block; see `mcpfactory.runtime._calls.result_text`."""

INJECTED = ("state", "rng")
"""Parameters the runtime passes to a body itself; they are not part of the tool's arguments."""


class _SchemaNoTitles(GenerateJsonSchema):
    """JSON Schema without pydantic's generated titles: shorter prompts, same meaning."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> dict[str, Any]:
        result = super().generate(schema, mode)
        result.pop("title", None)
        for definition in result.get("$defs", {}).values():
            definition.pop("title", None)
        return result


def _is_object_schema(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "object":
        return True
    ref = schema.get("$ref")
    return isinstance(ref, str) and ref.startswith("#/$defs/")


@dataclass
class ToolDef:
    """A compiled tool: the body, its argument model and its schemas."""

    name: str
    description: str
    effect: Effect
    errors: Mapping[str, str]
    func: Callable[..., Any]
    injected: tuple[str, ...]
    arguments: type[pydantic.BaseModel]
    output_schema: dict[str, Any]
    wraps_result: bool
    mcp_tool: types.Tool = field(repr=False)
    render: Render = "json"
    error_when: Callable[[Any], bool] | None = field(default=None, repr=False)
    page: Paging | None = None
    scopes: tuple[str, ...] | None = None  # the scopes a caller needs (empty: a principal, any scope); None: anyone


def tool_def(
    func: Callable[..., Any],
    effect: Effect,
    errors: Mapping[str, str],
    *,
    render: Render = "json",
    error_when: Callable[[Any], bool] | None = None,
    refs: Mapping[str, str] | None = None,
    page: Paging | None = None,
    scopes: tuple[str, ...] | None = None,
) -> ToolDef:
    """Build the definition of the tool whose body is `func`.

    `render` says how its results become text; `error_when`, if given, marks
    the returned values that are errors (see `mcpfactory.runtime._calls`);
    `refs` maps the parameters that name records to their collections; `page`
    makes the tool return pages of the list its body returns
    (`mcpfactory.runtime._pages`); `scopes` are what a caller needs
    (`mcpfactory.runtime._caller`).
    """
    if render not in ("json", "python"):
        raise ValueError(f"render must be 'json' or 'python', not {render!r}")
    if page is not None or scopes is not None:  # the refusals they add are the tool's errors too
        errors = {**(page.errors if page else {}), **(AUTH_ERRORS if scopes is not None else {}), **errors}
    name = func.__name__
    hints = typing.get_type_hints(func, include_extras=True)
    fields: dict[str, Any] = {}
    injected: list[str] = []
    for param in inspect.signature(func).parameters.values():
        if param.name in INJECTED:
            injected.append(param.name)
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], default)
    if page is not None:
        fields.update(page.fields())
    config = pydantic.ConfigDict(extra="forbid", strict=True)
    arguments = pydantic.create_model(f"{name}_arguments", __config__=config, **fields)
    input_schema = arguments.model_json_schema(schema_generator=_SchemaNoTitles)
    returns = hints["return"] if page is None else page.result_type(hints["return"])
    output_schema = pydantic.TypeAdapter(returns).json_schema(schema_generator=_SchemaNoTitles)
    wraps = not _is_object_schema(output_schema)
    if wraps:
        defs = output_schema.pop("$defs", None)
        output_schema = {"type": "object", "properties": {"result": output_schema}, "required": ["result"]}
        if defs:
            output_schema["$defs"] = defs
    description = inspect.cleandoc(func.__doc__ or "")
    tool = types.Tool(
        name=name,
        description=description,
        input_schema=input_schema,
        output_schema=output_schema,
        annotations=types.ToolAnnotations(
            read_only_hint=effect == "read",
            destructive_hint=False if effect == "read" else None,
            idempotent_hint=True if effect == "read" else None,
            open_world_hint=False,
        ),
        _meta={REFS_META_KEY: dict(refs)} if refs else None,
    )
    return ToolDef(
        name,
        description,
        effect,
        errors,
        func,
        tuple(injected),
        arguments,
        output_schema,
        wraps,
        tool,
        render,
        error_when,
        page,
        scopes,
    )
