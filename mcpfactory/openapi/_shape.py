"""Shapes: the importer's normalised view of a JSON Schema, from which types, samples and checks all come.

A document's schemas are messy (`$ref` chains, `allOf`, `nullable` and
`type: [.., "null"]`, enums of mixed values, recursion). `_schema.py` reads
each into a `Shape` once; everything after works on shapes, so the spec type
of a field, the seed value generated for it and the check that a document's
own example fits it can never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["NO_VALUE", "Field", "Kind", "Shape", "brief", "fits", "literal_text"]

Kind = Literal["str", "int", "float", "bool", "any", "list", "dict", "object", "literal", "union"]

NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "NO_VALUE"})()

# Constraints kept on fields and parameters, by JSON Schema name -> the spec's name.
CONSTRAINTS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "multipleOf": "multiple_of",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "format": "format",
    "minItems": "min_items",
    "maxItems": "max_items",
}


@dataclass
class Field:
    """A property of an object shape."""

    shape: Shape
    required: bool
    description: str | None = None


@dataclass
class Shape:
    """A normalised schema: a kind, and what that kind needs."""

    kind: Kind
    nullable: bool = False
    item: Shape | None = None  # list items, dict values
    fields: dict[str, Field] = field(default_factory=dict)  # object properties, in document order
    name: str | None = None  # object and union type names
    values: tuple[str | int, ...] = ()  # literal values
    variants: tuple[Shape, ...] = ()  # union members (object shapes)
    discriminator: str | None = None
    constraints: dict[str, Any] = field(default_factory=dict)  # the spec's names (min_length, ...)
    description: str | None = None
    example: Any = NO_VALUE
    default: Any = NO_VALUE
    read_only: bool = False
    write_only: bool = False
    binary: bool = False

    def without_null(self) -> Shape:
        if not self.nullable:
            return self
        copy = Shape(**{**self.__dict__})
        copy.nullable = False
        return copy


def brief(text: str | None, limit: int) -> str | None:
    """The first paragraph of a description, cut at a sentence or word within `limit` characters."""
    if not text:
        return None
    first = text.strip().split("\n\n")[0].replace("\n", " ").strip()
    if len(first) <= limit:
        return first or None
    cut = first[:limit]
    stop = cut.rfind(". ")
    if stop > limit // 3:
        return cut[: stop + 1]
    return cut.rsplit(" ", 1)[0].rstrip(",;:") + "..."


def literal_text(values: tuple[str | int, ...]) -> str:
    return "Literal[" + ", ".join(repr(v) for v in values) + "]"


def fits(shape: Shape, value: Any, depth: int = 0) -> bool:
    """Whether `value` is a valid instance of `shape` (constraints included)."""
    if depth > 24:
        return False
    if value is None:
        return shape.nullable or shape.kind == "any"
    kind = shape.kind
    if kind == "any":
        return True
    if kind == "str":
        return isinstance(value, str) and _fits_str(shape.constraints, value)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and _fits_number(shape.constraints, value)
    if kind == "float":
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and _fits_number(shape.constraints, value)
        )
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "literal":
        return any(type(value) is type(v) and value == v for v in shape.values)
    if kind == "list":
        if not isinstance(value, list):
            return False
        low, high = shape.constraints.get("min_items"), shape.constraints.get("max_items")
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            return False
        assert shape.item is not None
        return all(fits(shape.item, v, depth + 1) for v in value)
    if kind == "dict":
        assert shape.item is not None
        return isinstance(value, dict) and all(
            isinstance(k, str) and fits(shape.item, v, depth + 1) for k, v in value.items()
        )
    if kind == "object":
        if not isinstance(value, dict) or any(k not in shape.fields for k in value):
            return False
        for name, spec in shape.fields.items():
            if name not in value:
                if spec.required:
                    return False
            elif not fits(spec.shape, value[name], depth + 1):
                return False
        return True
    if kind == "union":
        return sum(fits(v, value, depth + 1) for v in shape.variants) == 1
    return False


def _fits_str(constraints: dict[str, Any], value: str) -> bool:
    low, high = constraints.get("min_length"), constraints.get("max_length")
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        return False
    pattern = constraints.get("pattern")
    if pattern is None:
        return True
    from mcpfactory.openapi._schema import matches

    return matches(pattern, value)


def _fits_number(constraints: dict[str, Any], value: float) -> bool:
    low, high = constraints.get("minimum"), constraints.get("maximum")
    above, below = constraints.get("exclusive_minimum"), constraints.get("exclusive_maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        return False
    if (above is not None and value <= above) or (below is not None and value >= below):
        return False
    step = constraints.get("multiple_of")
    if step:
        quotient = value / step
        return bool(abs(quotient - round(quotient)) < 1e-9)
    return True
