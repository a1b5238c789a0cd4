"""The compact type syntax of specs: parse it, resolve names, and render it.

A type string is a Python-like expression (`list[str]`, `dict[str, Book]`,
`int | None`, `Literal['a', 'b']`, `ref[books]`), so it is parsed with `ast`
and every node keeps its column for error messages.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SCALARS", "RefTargets", "TypeExpr", "TypeSyntaxError", "parse_type"]

SCALARS: Mapping[str, str] = {
    "str": "str",
    "int": "int",
    "float": "Number",
    "bool": "bool",
    "any": "Any",
    "None": "None",
}
_GENERICS = ("list", "dict", "Literal", "ref")


class TypeSyntaxError(ValueError):
    """A type string that does not parse or names something unknown."""

    def __init__(self, message: str, col: int = 0, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.hint = hint


class RefTargets(set[str]):
    """The collections a `ref[...]` may name, with the type of each one's keys where it is not `str`.

    A `ref[issues]` to a collection keyed by integers is an `int` (docs/spec.md
    "Keys"); one keyed by several fields is a tuple of theirs.
    """

    def __init__(self, names: Iterable[str], key_types: Mapping[str, TypeExpr] | None = None) -> None:
        super().__init__(names)
        self.key_types: dict[str, TypeExpr] = {
            name: expr for name, expr in (key_types or {}).items() if expr != TypeExpr("scalar", "str")
        }


@dataclass(frozen=True, slots=True)
class TypeExpr:
    """A parsed type: scalar, list, dict, optional, literal, named, union (of named types), ref or tuple.

    A `ref` to a collection whose keys are not strings holds its key type as its
    one argument; a `tuple` (a composite key's type) is never written in a spec.
    """

    kind: str
    name: str = ""  # scalar name, named type, or ref'd collection
    args: tuple[TypeExpr, ...] = ()
    values: tuple[str | int, ...] = ()

    def names(self) -> set[str]:
        """Named types this expression mentions."""
        found = {self.name} if self.kind == "named" else set()
        for arg in self.args:
            found |= arg.names()
        return found

    def annotation(self) -> str:
        """Render as a Python annotation for generated code."""
        if self.kind == "scalar":
            return SCALARS[self.name]
        if self.kind == "list":
            return f"list[{self.args[0].annotation()}]"
        if self.kind == "dict":
            return f"dict[str, {self.args[0].annotation()}]"
        if self.kind == "optional":
            return f"{self.args[0].annotation()} | None"
        if self.kind == "literal":
            return "Literal[" + ", ".join(repr(v) for v in self.values) + "]"
        if self.kind == "ref":
            return self.args[0].annotation() if self.args else "str"
        if self.kind == "tuple":  # given as a JSON array (mcpfactory.runtime.JsonArray)
            return f"Annotated[{self.plain_annotation()}, JsonArray]"
        if self.kind == "union":
            return " | ".join(arg.annotation() for arg in self.args)
        return self.name

    def plain_annotation(self) -> str:
        """The annotation of a key type as bodies hold it: `tuple[str, int]` for a composite key."""
        if self.kind == "tuple":
            return "tuple[" + ", ".join(arg.annotation() for arg in self.args) + "]"
        return self.annotation()

    def is_object(self) -> bool:
        return self.kind in ("named", "dict", "union")


def _suggest(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def parse_type(text: str, known_types: set[str], collections: set[str]) -> TypeExpr:
    """Parse a type string; raise `TypeSyntaxError` with a column and a suggestion."""
    if not isinstance(text, str) or not text.strip():
        raise TypeSyntaxError("empty type")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise TypeSyntaxError(f"cannot parse type {text!r}: {exc.msg}", (exc.offset or 1) - 1) from None
    return _convert(tree.body, known_types, collections)


def _convert(node: ast.expr, known: set[str], collections: set[str]) -> TypeExpr:
    col = node.col_offset
    if isinstance(node, ast.Constant) and node.value is None:
        return TypeExpr("scalar", "None")
    if isinstance(node, ast.Name):
        if node.id in SCALARS:
            return TypeExpr("scalar", node.id)
        if node.id in known:
            return TypeExpr("named", node.id)
        if node.id in _GENERICS:
            raise TypeSyntaxError(f"'{node.id}' needs parameters, e.g. {node.id}[...]", col)
        options = sorted({*SCALARS, *known, "list", "dict"})
        raise TypeSyntaxError(f"unknown type '{node.id}'", col, _suggest(node.id, options))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = (_convert(side, known, collections) for side in (node.left, node.right))
        if right == TypeExpr("scalar", "None") and left.kind != "optional":
            return TypeExpr("optional", args=(left,))
        if left == TypeExpr("scalar", "None") and right.kind != "optional":
            return TypeExpr("optional", args=(right,))
        if left.kind == right.kind == "literal":
            return TypeExpr("literal", values=left.values + right.values)
        if left.kind in ("named", "union") and right.kind in ("named", "union"):
            members = (*_members(left), *_members(right))
            if len(set(members)) != len(members):
                raise TypeSyntaxError("a union names the same type twice", col)
            return TypeExpr("union", args=members)
        raise TypeSyntaxError(
            "only 'T | None', unions of literals and unions of named object types ('Cat | Dog') are supported", col
        )
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        head = node.value.id
        items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if head == "list":
            if len(items) != 1:
                raise TypeSyntaxError("list takes one parameter: list[T]", col)
            return TypeExpr("list", args=(_convert(items[0], known, collections),))
        if head == "dict":
            if len(items) != 2 or not (isinstance(items[0], ast.Name) and items[0].id == "str"):
                raise TypeSyntaxError("dict takes a str key and a value type: dict[str, T]", col)
            return TypeExpr("dict", args=(_convert(items[1], known, collections),))
        if head == "Literal":
            values: list[str | int] = []
            for item in items:
                if (
                    isinstance(item, ast.UnaryOp)
                    and isinstance(item.op, ast.USub)
                    and isinstance(item.operand, ast.Constant)
                    and type(item.operand.value) is int
                ):
                    values.append(-item.operand.value)
                    continue
                if not isinstance(item, ast.Constant) or type(item.value) not in (str, int):
                    raise TypeSyntaxError("Literal takes strings or integers: Literal['a', 'b']", item.col_offset)
                values.append(item.value)  # type: ignore[arg-type]  # narrowed by the check above
            if len(set(values)) != len(values):
                raise TypeSyntaxError("Literal repeats a value", col)
            return TypeExpr("literal", values=tuple(values))
        if head == "ref":
            if len(items) != 1 or not isinstance(items[0], ast.Name):
                raise TypeSyntaxError("ref takes a collection name: ref[books]", col)
            target = items[0].id
            if target not in collections:
                raise TypeSyntaxError(
                    f"unknown collection '{target}' in ref[...]",
                    items[0].col_offset,
                    _suggest(target, sorted(collections)),
                )
            key_type = collections.key_types.get(target) if isinstance(collections, RefTargets) else None
            return TypeExpr("ref", target, args=(key_type,) if key_type is not None else ())
        options = sorted(_GENERICS)
        raise TypeSyntaxError(f"unknown generic '{head}'", col, _suggest(head, options))
    raise TypeSyntaxError(f"not a type: {ast.unparse(node)!r}", col)


def _members(expr: TypeExpr) -> tuple[TypeExpr, ...]:
    return expr.args if expr.kind == "union" else (expr,)


def literal_from_enum(values: list[Any]) -> TypeExpr:
    return TypeExpr("literal", values=tuple(values))
