"""Collection keys in a spec: a string, an integer, or a composite of fields (docs/spec.md "Keys").

`key: book_id` keys a collection by one field, a `str` (or undeclared, then a
string the records need not carry), an `int`, or a `ref[...]` to a collection
keyed by one of those; `key: [owner, repo, number]` keys it by several
required fields of those types together, a tuple in bodies. Keys are written in
their text form wherever they are JSON object keys (`mcpfactory.runtime._keys`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcpfactory.runtime import KeyKind, key_to_wire
from mcpfactory.spec._model import EnvSpec, FieldSpec
from mcpfactory.spec._types import TypeExpr, TypeSyntaxError, parse_type

__all__ = ["KeyInfo", "resolve_keys"]

_STR = TypeExpr("scalar", "str")
_INT = TypeExpr("scalar", "int")
Report = Callable[[tuple[str | int, ...], str, str | None], None]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A collection's key: the field or fields it is made of (None: undeclared), its type and kind."""

    fields: str | tuple[str, ...] | None
    type: TypeExpr
    kind: KeyKind

    def of(self, record: Any) -> str | None:
        """The text form of the key a record carries in its key fields, or None if it carries none that fits."""
        if self.fields is None or not isinstance(record, Mapping):
            return None
        names = self.fields if isinstance(self.fields, tuple) else (self.fields,)
        parts = [record.get(name) for name in names]
        scalars = self.type.args if self.kind == "tuple" else (self.type,)
        for part, scalar in zip(parts, scalars, strict=True):
            wanted = int if scalar == _INT else str
            if not isinstance(part, wanted) or isinstance(part, bool):
                return None
        return key_to_wire(tuple(parts) if self.kind == "tuple" else parts[0])


def _field_type(raw: str | FieldSpec | None, known: set[str], collections: set[str]) -> tuple[TypeExpr | None, bool]:
    """A declared field's type (None if it does not parse; the field check reports why) and whether it is optional."""
    if raw is None:
        return None, False
    spec = raw if isinstance(raw, FieldSpec) else FieldSpec.model_validate({"type": raw})
    try:
        return parse_type(spec.type, known, collections), spec.optional
    except TypeSyntaxError:
        return None, spec.optional


def resolve_keys(spec: EnvSpec, known: set[str], report: Report) -> dict[str, KeyInfo]:
    """Each collection's key; report every key that cannot be one at its place (`report(loc, message, hint)`)."""
    collections = set(spec.collections)
    declared: dict[str, tuple[TypeExpr | None, bool]] = {}  # "coll.field" -> its type, optional
    for coll, coll_spec in spec.collections.items():
        for name, raw in coll_spec.fields.items():
            declared[f"{coll}.{name}"] = _field_type(raw, known, collections)

    def scalar_of(coll: str, expr: TypeExpr | None, trail: tuple[str, ...]) -> TypeExpr | None:
        """str or int for a field that can be (part of) a key: a scalar, or a ref to a collection keyed by one."""
        if expr in (_STR, _INT):
            return expr
        if expr is None or expr.kind != "ref" or expr.name in trail:
            return None
        target = spec.collections[expr.name]
        if not isinstance(target.key, str):
            return None
        if f"{expr.name}.{target.key}" not in declared:
            return _STR
        return scalar_of(expr.name, declared[f"{expr.name}.{target.key}"][0], (*trail, expr.name))

    keys: dict[str, KeyInfo] = {}
    for coll, coll_spec in spec.collections.items():
        loc: tuple[str | int, ...] = ("collections", coll, "key")
        if isinstance(coll_spec.key, str):
            found = declared.get(f"{coll}.{coll_spec.key}")
            if found is None:
                keys[coll] = KeyInfo(None, _STR, "str")
                continue
            expr, optional = found
            scalar = scalar_of(coll, expr, (coll,))
            if expr is not None and scalar is None:
                report(
                    ("collections", coll, "fields", coll_spec.key),
                    f"key field '{coll_spec.key}' must be a str or an int (keys are JSON object keys)",
                    "or a ref[...] to a collection keyed by a str or an int",
                )
            elif scalar == _INT and optional:
                report(("collections", coll, "fields", coll_spec.key), "an integer key field cannot be optional", None)
            scalar = scalar or _STR
            keys[coll] = KeyInfo(coll_spec.key, scalar, "int" if scalar == _INT else "str")
            continue
        names = coll_spec.key
        if len(names) < 2 or len(set(names)) != len(names):
            report(loc, "a composite key is two or more distinct fields", "or give one field name: key: id")
            keys[coll] = KeyInfo(None, _STR, "str")
            continue
        parts: list[TypeExpr] = []
        for index, name in enumerate(names):
            found = declared.get(f"{coll}.{name}")
            if found is None:
                report((*loc, index), f"key field '{name}' is not a field of {coll_spec.record}", None)
                continue
            expr, optional = found
            scalar = scalar_of(coll, expr, (coll,))
            if expr is not None and scalar is None:
                report(
                    ("collections", coll, "fields", name),
                    f"key field '{name}' must be a str or an int (part of the composite key)",
                    "or a ref[...] to a collection keyed by a str or an int",
                )
            elif optional:
                report(("collections", coll, "fields", name), f"key field '{name}' cannot be optional", None)
            parts.append(scalar or _STR)
        keys[coll] = KeyInfo(tuple(names), TypeExpr("tuple", args=tuple(parts)), "tuple")
    return keys
