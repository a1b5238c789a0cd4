"""Render shapes as the spec's types: type strings, named types, field and parameter specs with constraints."""

from __future__ import annotations

from typing import Any

from mcpfactory.openapi._shape import Shape, brief, literal_text

__all__ = ["RESERVED_TYPE_NAMES", "TypeWriter"]

# Names a generated server.py already binds (and Python's constants), which a type may not take.
RESERVED_TYPE_NAMES = frozenset(
    {"State", "Collection", "Environment", "StateBase", "ToolError", "Number", "Path", "Annotated", "Any"}
    | {"Literal", "NotRequired", "TypedDict", "ConfigDict", "Field", "Server", "None", "True", "False"}
    | {"ENV_NAME", "SPEC_SHA256", "CLOCK", "POLICY", "Counter", "RecordedRequest"}
)


class TypeWriter:
    """Names object and union shapes once and writes the `types:` section for those that are not records."""

    def __init__(self, records: dict[int, str]) -> None:
        self.records = records  # id(record shape) -> record type name
        self.types: dict[str, dict[str, Any]] = {}
        self._named: dict[int, str] = dict(records)
        self._taken: set[str] = set(records.values()) | set(RESERVED_TYPE_NAMES)

    def name(self, shape: Shape) -> str:
        """The spec name of an object or union shape, declaring it under `types:` the first time."""
        known = self._named.get(id(shape))
        if known is not None:
            return known
        base = shape.name or ("Union" if shape.kind == "union" else "Object")
        name, number = base, 2
        while name in self._taken:
            name, number = f"{base}{number}", number + 1
        self._taken.add(name)
        self._named[id(shape)] = name
        self.types[name] = {}  # placeholder first: a type may mention itself through a field
        if shape.kind == "union":
            spec: dict[str, Any] = {"union": [self.type_of(v.without_null()) for v in shape.variants]}
            if shape.discriminator:
                spec["discriminator"] = shape.discriminator
        else:
            spec = {"fields": self.fields(shape)}
        description = brief(shape.description, 100)
        if description:
            spec = {"description": description, **spec}
        self.types[name] = spec
        return name

    def type_of(self, shape: Shape) -> str:
        """The spec type string of a shape (`str`, `list[Pet]`, `Literal['a'] | None`, ...)."""
        kind = shape.kind
        base: str
        if kind in ("str", "int", "float", "bool"):
            base = str(kind)
        elif kind == "literal":
            base = literal_text(shape.values)
        elif kind == "list":
            assert shape.item is not None
            base = f"list[{self.type_of(shape.item)}]"
        elif kind == "dict":
            assert shape.item is not None
            base = f"dict[str, {self.type_of(shape.item)}]"
        elif kind in ("object", "union"):
            base = self.name(shape)
        else:
            return "any"
        if shape.nullable and not base.endswith("| None"):
            return f"{base} | None"
        return base

    def fields(self, shape: Shape) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for prop, spec in shape.fields.items():
            entry: dict[str, Any] = {"type": self.type_of(spec.shape)}
            description = brief(spec.description, 80)
            if description:
                entry["description"] = description
            if not spec.required:
                entry["optional"] = True
            entry.update(constraints(spec.shape))
            out[prop] = entry if len(entry) > 1 else entry["type"]
        return out


def constraints(shape: Shape) -> dict[str, Any]:
    """The spec's constraint keys of a shape (on its non-null part)."""
    return dict(shape.constraints)
