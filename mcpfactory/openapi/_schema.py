"""Read a document's JSON Schemas into shapes: `$ref`s followed, `allOf` merged, recursion and depth bounded.

Every node read is named by its JSON pointer in the document, so a problem
(a reference that points nowhere or outside the document, a pattern Python
cannot compile) is reported at the document's own place. Such a node becomes
a permissive shape (`any`) and the import goes on.
"""

from __future__ import annotations

import functools
import keyword
import re
import warnings
from collections.abc import Mapping
from typing import Annotated, Any

from mcpfactory.openapi._shape import CONSTRAINTS, NO_VALUE, Field, Shape

__all__ = ["MAX_DEPTH", "Problem", "SchemaReader", "camel", "pointer_escape"]

MAX_DEPTH = 2  # object nesting kept as named types below an operation; deeper objects become dict[str, any]
_MAX_HOPS = 32


def camel(text: str) -> str:
    """`pet vaccinations-item` -> `PetVaccinationsItem`; a valid identifier starting with a letter."""
    out = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)
    if not out or not out[0].isalpha():
        out = "T" + out
    return out


def pointer_escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class Problem(tuple[str, str]):
    """(JSON pointer, message): something the import had to work around."""

    __slots__ = ()

    @property
    def where(self) -> str:
        return self[0]

    @property
    def message(self) -> str:
        return self[1]


@functools.lru_cache(maxsize=4096)
def _pattern_adapter(pattern: str) -> Any:
    import pydantic

    try:
        re.compile(pattern)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydantic.TypeAdapter(Annotated[str, pydantic.Field(pattern=pattern)])
    except Exception:
        return None


def matches(pattern: str, value: str) -> bool:
    """Whether `value` matches `pattern` for Python's `re` (JSON Schema) and for pydantic (the server) alike."""
    import pydantic

    adapter = _pattern_adapter(pattern)
    if adapter is None or re.search(pattern, value) is None:
        return False
    try:
        adapter.validate_python(value)
    except pydantic.ValidationError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def usable_pattern(pattern: str) -> bool:
    """Whether both engines accept `pattern` and a value both find a match in can be built from it."""
    from mcpfactory.openapi._sample import regex_sample

    if _pattern_adapter(pattern) is None:
        return False
    sample = regex_sample(pattern, 1)
    return sample is not None and matches(pattern, sample)


class SchemaReader:
    """Turns schema nodes of one document into shapes, naming object types once per `$ref`."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.names: dict[str, Shape] = {}  # type name -> the object or union shape that owns it
        self._by_ref: dict[str, Shape] = {}
        self._reading: set[str] = set()
        self._reported: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ references

    def problem(self, where: str, message: str) -> None:
        if (where, message) not in self._reported:
            self._reported.add((where, message))
            self.problems.append(Problem((where, message)))

    def lookup(self, ref: str) -> Any:
        """The node a local `$ref` points at, or `None` if it points nowhere or outside the document."""
        if not ref.startswith("#"):
            return None
        node: Any = self.root
        for part in ref[1:].lstrip("/").split("/") if ref not in ("#", "#/") else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node

    def deref(self, node: Any, where: str) -> tuple[Any, str]:
        """Follow `$ref`s from `node` (at `where`); a broken one is reported and gives `{}`."""
        for _ in range(_MAX_HOPS):
            if not isinstance(node, Mapping) or "$ref" not in node:
                return node, where
            ref = node["$ref"]
            target = self.lookup(ref) if isinstance(ref, str) else None
            if target is None:
                kind = "outside this document" if isinstance(ref, str) and not ref.startswith("#") else "to nothing"
                self.problem(f"{where}/$ref", f"reference {ref!r} points {kind}; read as any value")
                return {}, where
            node, where = target, str(ref)
        self.problem(where, "a chain of references that does not end; read as any value")
        return {}, where

    # ------------------------------------------------------------------ shapes

    def shape(self, node: Any, where: str, name: str, depth: int = 0) -> Shape:
        """The shape of a schema node; `name` names its object type if it has no component name."""
        if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in self._by_ref:
                return self._by_ref[ref]
            if depth >= MAX_DEPTH:
                # Too deep to type here; not remembered, so a shallower use of the same schema is typed in full.
                return Shape("dict", item=Shape("any"), description=_text(node.get("description")))
            if ref in self._reading:
                self.problem(ref, "a recursive schema; the inner occurrence is read as an open object")
                return Shape("dict", item=Shape("any"), description=_text(node.get("description")))
            target, pointer = self.deref(node, where)
            component = _component_name(ref)
            self._reading.add(ref)
            try:
                shape = self.shape(target, pointer, component or name, depth)
            finally:
                self._reading.discard(ref)
            self._by_ref[ref] = shape
            return shape
        if not isinstance(node, Mapping):
            if node is not True and node is not None and node != {}:
                self.problem(where, "a schema that is not an object; read as any value")
            return Shape("any")
        if "allOf" in node and isinstance(node["allOf"], list):
            return self._all_of(node, where, name, depth)
        for key in ("oneOf", "anyOf"):
            if isinstance(node.get(key), list) and node[key]:
                return self._one_of(node, key, where, name, depth)
        shape = self._plain(node, where, name, depth)
        _annotate(shape, node)
        return shape

    def _plain(self, node: Mapping[str, Any], where: str, name: str, depth: int) -> Shape:
        kind = node.get("type")
        nullable = bool(node.get("nullable"))
        if isinstance(kind, list):
            nullable = nullable or "null" in kind
            kinds = [k for k in kind if k != "null"]
            kind = kinds[0] if len(kinds) == 1 else None
        enum = node.get("enum")
        if isinstance(enum, list) and enum:
            nullable = nullable or None in enum
            values = [v for v in enum if v is not None]
            if values and all(isinstance(v, str) for v in values) and kind in (None, "string"):
                return Shape("literal", nullable, values=tuple(dict.fromkeys(values)))
            if values and all(type(v) is int for v in values) and kind in (None, "integer", "number"):
                return Shape("literal", nullable, values=tuple(dict.fromkeys(values)))
        if kind == "string":
            shape = Shape("str", nullable, constraints=self._constraints(node, where, "str"))
            shape.binary = node.get("format") in ("binary", "byte")
            return shape
        if kind == "integer":
            return Shape("int", nullable, constraints=self._constraints(node, where, "num"))
        if kind == "number":
            return Shape("float", nullable, constraints=self._constraints(node, where, "num"))
        if kind == "boolean":
            return Shape("bool", nullable)
        if kind == "array" or (kind is None and "items" in node):
            items = node.get("items")
            item_name = name + "Item"
            item = self.shape(items, f"{where}/items", item_name, depth) if items is not None else Shape("any")
            return Shape("list", nullable, item=item, constraints=self._constraints(node, where, "list"))
        if kind == "object" or (kind is None and ("properties" in node or "additionalProperties" in node)):
            return self._object(node, where, name, depth, nullable)
        if kind == "null":
            return Shape("any")
        return Shape("any")

    def _object(self, node: Mapping[str, Any], where: str, name: str, depth: int, nullable: bool) -> Shape:
        props = node.get("properties")
        if not isinstance(props, Mapping) or not props:
            extra = node.get("additionalProperties")
            if isinstance(extra, Mapping) and extra and depth < MAX_DEPTH:
                value = self.shape(extra, f"{where}/additionalProperties", name + "Value", depth + 1)
                return Shape("dict", nullable, item=value)
            return Shape("dict", nullable, item=Shape("any"))
        if depth >= MAX_DEPTH:
            return Shape("dict", nullable, item=Shape("any"))
        shape = Shape("object", nullable, name=self._claim(name))
        self.names[shape.name or ""] = shape
        required = {str(r) for r in node.get("required") or () if isinstance(r, str)}
        for prop, sub in props.items():
            prop = str(prop)
            if not prop.isidentifier() or keyword.iskeyword(prop) or prop.startswith("_") or not prop.isascii():
                self.problem(f"{where}/properties/{pointer_escape(prop)}", "not a valid field name; left out")
                continue
            child = self.shape(
                sub, f"{where}/properties/{pointer_escape(prop)}", (shape.name or name) + camel(prop), depth + 1
            )
            description = _text(sub.get("description")) if isinstance(sub, Mapping) else None
            shape.fields[prop] = Field(child, prop in required, description or child.description)
        if list(shape.fields) == ["result"] and shape.fields["result"].required:
            # MCP clients read an object whose one required field is `result` as a wrapped plain value.
            shape.fields["result"].required = False
            self.problem(where, "a lone required field 'result' is optional here (MCP reads it as a wrapped value)")
        return shape

    def _all_of(self, node: Mapping[str, Any], where: str, name: str, depth: int) -> Shape:
        parts = [self.deref(part, f"{where}/allOf/{i}") for i, part in enumerate(node["allOf"])]
        own = {k: v for k, v in node.items() if k != "allOf"}
        objects = [p for p, _ in parts if isinstance(p, Mapping) and _is_objectish(p)]
        if not objects and not _is_objectish(own):
            # `allOf: [{$ref: X}]` with a description beside it: X itself.
            first = node["allOf"][0] if node["allOf"] else {}
            shape = self.shape(first, f"{where}/allOf/0", name, depth)
            return shape
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part, _ in [*parts, (own, where)]:
            if not isinstance(part, Mapping):
                continue
            if "allOf" in part:
                inner = self._flatten_all_of(part, where)
                part = {**part, **inner}
            merged["properties"].update(part.get("properties") or {})
            merged["required"] += [r for r in part.get("required") or () if r not in merged["required"]]
            for key in ("description", "nullable", "example", "readOnly"):
                if key in part:
                    merged[key] = part[key]
        shape = self._object(merged, where, name, depth, bool(merged.get("nullable")))
        _annotate(shape, merged)
        return shape

    def _flatten_all_of(self, node: Mapping[str, Any], where: str, hops: int = 0) -> dict[str, Any]:
        props: dict[str, Any] = {}
        required: list[str] = []
        for index, part in enumerate(node.get("allOf") or ()):
            part, _ = self.deref(part, f"{where}/allOf/{index}")
            if not isinstance(part, Mapping):
                continue
            if "allOf" in part and hops < 8:
                inner = self._flatten_all_of(part, where, hops + 1)
                props.update(inner["properties"])
                required += inner["required"]
            props.update(part.get("properties") or {})
            required += list(part.get("required") or ())
        props.update(node.get("properties") or {})
        return {"properties": props, "required": required + list(node.get("required") or ())}

    def _one_of(self, node: Mapping[str, Any], key: str, where: str, name: str, depth: int) -> Shape:
        branches = node[key]
        nullable = bool(node.get("nullable"))
        variants: list[Shape] = []
        for index, branch in enumerate(branches):
            target, _ = self.deref(branch, f"{where}/{key}/{index}")
            if isinstance(target, Mapping) and (target.get("type") == "null" or target.get("enum") == [None]):
                nullable = True
                continue
            variants.append(self.shape(branch, f"{where}/{key}/{index}", f"{name}{index + 1}", depth))
        if not variants:
            return Shape("any")
        if len(variants) == 1:
            only = variants[0]
            return only if not nullable else _nullable(only)
        if all(v.kind == "object" for v in variants) and len({v.name for v in variants}) == len(variants):
            union = Shape("union", nullable, name=self._claim(name), variants=tuple(variants))
            self.names[union.name or ""] = union
            union.discriminator = self._discriminator(node, variants)
            _annotate(union, node)
            return union
        kinds = {v.kind for v in variants}
        if kinds == {"literal"}:
            values = tuple(dict.fromkeys(x for v in variants for x in v.values))
            if len({type(x) for x in values}) == 1:
                return Shape("literal", nullable, values=values)
        if kinds <= {"int", "float"}:
            return Shape("float", nullable)
        return Shape("any")

    def _discriminator(self, node: Mapping[str, Any], variants: list[Shape]) -> str | None:
        spec = node.get("discriminator")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("propertyName"), str):
            return None
        prop = spec["propertyName"]
        seen: set[str | int] = set()
        for variant in variants:
            found = variant.fields.get(prop)
            if found is None or not found.required or found.shape.kind != "literal" or found.shape.nullable:
                return None
            if seen & set(found.shape.values):
                return None
            seen |= set(found.shape.values)
        return str(prop)

    def _claim(self, name: str) -> str:
        base = camel(name)
        candidate, number = base, 2
        while candidate in self.names:
            candidate, number = f"{base}{number}", number + 1
        self.names[candidate] = Shape("any")  # reserved; the caller stores the real shape
        return candidate

    def _constraints(self, node: Mapping[str, Any], where: str, family: str) -> dict[str, Any]:
        wanted = {
            "str": ("minLength", "maxLength", "pattern", "format"),
            "num": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
            "list": ("minItems", "maxItems"),
        }[family]
        out: dict[str, Any] = {}
        for key in wanted:
            value = node.get(key)
            if value is None or (isinstance(value, bool) and key not in ("exclusiveMinimum", "exclusiveMaximum")):
                continue
            if key in ("minLength", "maxLength", "minItems", "maxItems"):
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    out[CONSTRAINTS[key]] = value
            elif key == "pattern":
                if isinstance(value, str) and usable_pattern(value):
                    out["pattern"] = value
                else:
                    self.problem(f"{where}/pattern", f"pattern {value!r} cannot be enforced or met; left out")
            elif key == "format":
                if isinstance(value, str) and value not in ("binary", "byte"):
                    out["format"] = value
            elif key in ("exclusiveMinimum", "exclusiveMaximum"):
                bound = "minimum" if key == "exclusiveMinimum" else "maximum"
                if value is True and _number(node.get(bound)):
                    out[CONSTRAINTS[key]] = node[bound]
                elif _number(value):
                    out[CONSTRAINTS[key]] = value
            elif key == "multipleOf":
                if _number(value) and value > 0:
                    out["multiple_of"] = value
            elif _number(value) and node.get(f"exclusive{key.capitalize()}") is not True:
                out[key] = value
        for low, high in (("minimum", "maximum"), ("min_length", "max_length"), ("min_items", "max_items")):
            if low in out and high in out and out[low] > out[high]:
                self.problem(where, f"{low} {out[low]} is above {high} {out[high]}; both left out")
                del out[low], out[high]
        return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e15


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _component_name(ref: str) -> str | None:
    for prefix in ("#/components/schemas/", "#/definitions/"):
        if ref.startswith(prefix) and "/" not in ref[len(prefix) :]:
            return ref[len(prefix) :].replace("~1", "/").replace("~0", "~")
    return None


def _is_objectish(node: Any) -> bool:
    return isinstance(node, Mapping) and (node.get("type") == "object" or "properties" in node or "allOf" in node)


def _nullable(shape: Shape) -> Shape:
    copy = Shape(**{**shape.__dict__})
    copy.nullable = True
    return copy


def _annotate(shape: Shape, node: Mapping[str, Any]) -> None:
    if shape.description is None:
        shape.description = _text(node.get("description")) or _text(node.get("title"))
    if "example" in node and shape.example is NO_VALUE:
        shape.example = node["example"]
    elif isinstance(node.get("examples"), list) and node["examples"] and shape.example is NO_VALUE:
        shape.example = node["examples"][0]
    if "default" in node and shape.default is NO_VALUE:
        shape.default = node["default"]
    shape.read_only = shape.read_only or node.get("readOnly") is True
    shape.write_only = shape.write_only or node.get("writeOnly") is True
