"""The tool dependency graph: which values each parameter can take, and which outputs feed which inputs.

Built from what any MCP client sees (the listed tools' input and output
schemas, the `refs` a tool's `_meta` declares) and from the seed state, so it needs neither the
spec nor a model:

- a parameter's *sources*: the collection it references (`refs`), its enum,
  and the record fields that carry the same name (`email` -> `guests.email`);
- an *edge* `producer.field -> consumer.param` where a tool's output schema
  holds a field of the parameter's name, or the key field of the collection
  the parameter references (`find_guest` returns `guest_id`, which
  `book_room.guest_id` takes);
- *links* between records: a field whose values are all keys of one
  collection (`bookings.guest_id -> guests`), or lists of such keys. A
  parameter a tool does not declare a reference for takes the collection of
  the link field of its name (`user_id -> users`), so environments whose tools
  declare no `refs` get them from their data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcpfactory.synth._session import ToolInfo

__all__ = [
    "Edge",
    "Link",
    "Param",
    "ToolGraph",
    "build_graph",
    "key_fields",
    "kind_of",
    "record_links",
    "resolve",
    "split_nullable",
]

State = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a tool, as synthesis needs it."""

    tool: str
    name: str
    kind: str  # string, integer, number, boolean, array, object, any
    required: bool
    nullable: bool
    schema: Mapping[str, Any] = field(repr=False)
    default: Any = None
    has_default: bool = False
    ref: str | None = None
    enum: tuple[Any, ...] = ()
    item_kind: str | None = None
    fields: tuple[tuple[str, str], ...] = ()  # (collection, field) with this name
    description: str = ""

    @property
    def is_id(self) -> bool:
        return self.ref is not None or self.name == "id" or self.name.endswith("_id")


@dataclass(frozen=True, slots=True)
class Edge:
    """An output field of one tool that can feed a parameter of another."""

    producer: str
    output_field: str
    consumer: str
    param: str


@dataclass(frozen=True, slots=True)
class Link:
    """A record field that holds keys of another collection (`many`: a list of them; `sub`: a list of
    objects whose field `sub` holds them, as `meetings.attendees[].user_id`)."""

    collection: str
    field: str
    target: str
    many: bool = False
    sub: str | None = None

    def keys(self, record: Mapping[str, Any]) -> list[str]:
        """The keys this link holds in `record`."""
        value = record.get(self.field)
        items = value if isinstance(value, list) else [value]
        if self.sub is not None:
            items = [item.get(self.sub) for item in items if isinstance(item, Mapping)]
        return [item for item in items if isinstance(item, str)]


@dataclass
class ToolGraph:
    """Tools, their parameters and the edges between them; see the module docstring."""

    tools: dict[str, ToolInfo]
    params: dict[str, list[Param]]
    key_fields: dict[str, str | None]
    output_fields: dict[str, frozenset[str]]
    edges: list[Edge]
    links: list[Link] = field(default_factory=list)

    @property
    def reads(self) -> list[str]:
        return [name for name, tool in self.tools.items() if tool.read_only]

    @property
    def writes(self) -> list[str]:
        return [name for name, tool in self.tools.items() if not tool.read_only]

    def producers(self, consumer: str, param: str) -> list[str]:
        return [e.producer for e in self.edges if e.consumer == consumer and e.param == param]

    def to_json(self) -> dict[str, Any]:
        return {
            "tools": {
                name: {
                    "effect": "read" if tool.read_only else "write",
                    "params": {
                        p.name: {
                            "kind": p.kind,
                            "required": p.required,
                            **({"ref": p.ref} if p.ref else {}),
                            **({"enum": list(p.enum)} if p.enum else {}),
                            **({"fields": [f"{c}.{f}" for c, f in p.fields]} if p.fields else {}),
                        }
                        for p in self.params[name]
                    },
                }
                for name, tool in self.tools.items()
            },
            "key_fields": self.key_fields,
            "edges": [f"{e.producer}.{e.output_field} -> {e.consumer}.{e.param}" for e in self.edges],
            "links": [
                f"{k.collection}.{k.field}{'[]' if k.many else ''}{'.' + k.sub if k.sub else ''} -> {k.target}"
                for k in self.links
            ],
        }


def resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local `$ref` (`#/$defs/Name`)."""
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = str(schema["$ref"])
        target: Any = root
        for part in ref.lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        schema = target
        seen += 1
    return schema


def split_nullable(schema: Mapping[str, Any], root: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """The non-null branch of an `anyOf: [T, null]`, and whether null is allowed."""
    schema = resolve(schema, root)
    options = schema.get("anyOf")
    if isinstance(options, list):
        rest = [resolve(o, root) for o in options if resolve(o, root).get("type") != "null"]
        nullable = len(rest) < len(options)
        if len(rest) == 1:
            merged = {k: v for k, v in schema.items() if k != "anyOf"}
            merged.update(rest[0])
            return merged, nullable
        return schema, nullable
    return schema, schema.get("type") == "null"


def kind_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, str) and kind in ("string", "integer", "number", "boolean", "array", "object"):
        return kind
    if "enum" in schema:
        values = schema["enum"]
        return "integer" if values and all(isinstance(v, int) for v in values) else "string"
    if "properties" in schema:
        return "object"
    return "any"


def _field_names(state: State) -> dict[str, list[tuple[str, str]]]:
    """Top-level record field name -> the collections whose records carry it."""
    names: dict[str, list[tuple[str, str]]] = {}
    for coll, records in state.items():
        seen: set[str] = set()
        for record in list(records.values())[:200]:
            if isinstance(record, Mapping):
                seen.update(record)
        for name in sorted(seen):
            names.setdefault(name, []).append((coll, name))
    return names


def key_fields(state: State) -> dict[str, str | None]:
    """Each collection's key field: the field that equals the record's key in every record, if any."""
    found: dict[str, str | None] = {}
    for coll, records in state.items():
        candidates: set[str] | None = None
        for key, record in list(records.items())[:200]:
            if not isinstance(record, Mapping):
                continue
            matching = {name for name, value in record.items() if value == key}
            candidates = matching if candidates is None else candidates & matching
        found[coll] = sorted(candidates)[0] if candidates else None
    return found


def _output_names(schema: Mapping[str, Any] | None) -> frozenset[str]:
    if not schema:
        return frozenset()
    names: set[str] = set()

    def walk(node: Any, depth: int) -> None:
        if depth > 8 or not isinstance(node, Mapping):
            return
        node = resolve(node, schema)
        for name, sub in (node.get("properties") or {}).items():
            names.add(str(name))
            walk(sub, depth + 1)
        for keyword in ("items", "additionalProperties"):
            walk(node.get(keyword), depth + 1)
        for option in node.get("anyOf") or ():
            walk(option, depth + 1)

    walk(schema, 0)
    names.discard("result")
    return frozenset(names)


def record_links(state: State, keys: Mapping[str, str | None] | None = None) -> list[Link]:
    """Fields whose values are keys of one collection, in every record that sets them (at least two values).

    A collection's own key field links only to another collection (`carts`
    keyed by `customer_id` link to `customers`).
    """
    keys = keys if keys is not None else key_fields(state)
    key_sets = {coll: frozenset(k for k in records if isinstance(k, str)) for coll, records in state.items()}

    def target(coll: str, name: str, items: list[Any]) -> str | None:
        if len(items) < 2 or not all(isinstance(i, str) for i in items):
            return None
        found = [
            other
            for other, known in sorted(key_sets.items())
            if known and all(i in known for i in items) and not (other == coll and name == keys.get(coll))
        ]
        return found[0] if len(found) == 1 else None

    links: list[Link] = []
    for coll, records in state.items():
        values: dict[str, list[Any]] = {}
        for record in list(records.values())[:300]:
            if isinstance(record, Mapping):
                for name, value in record.items():
                    values.setdefault(str(name), []).append(value)
        for name, found in sorted(values.items()):
            present = [v for v in found if v is not None]
            many = bool(present) and all(isinstance(v, list) for v in present)
            items = [i for v in present for i in (v if isinstance(v, list) else [v])]
            if items and all(isinstance(i, Mapping) for i in items):
                subs = sorted({str(k) for i in items for k in i})
                for sub in subs:
                    other = target(coll, sub, [i.get(sub) for i in items if i.get(sub) is not None])
                    if other is not None:
                        links.append(Link(coll, name, other, True, sub))
                continue
            other = target(coll, name, items)
            if other is not None:
                links.append(Link(coll, name, other, many))
    return links


def _params(tool: ToolInfo, fields: Mapping[str, list[tuple[str, str]]], by_name: Mapping[str, str]) -> Iterator[Param]:
    root = tool.input_schema
    required = set(root.get("required") or ())
    for name, raw in (root.get("properties") or {}).items():
        schema, nullable = split_nullable(raw, root)
        ref = tool.refs.get(name) or (by_name.get(str(name)) if kind_of(schema) == "string" else None)
        enum = tuple(schema.get("enum") or ())
        item_kind = None
        if kind_of(schema) == "array":
            items, _ = split_nullable(schema.get("items") or {}, root)
            item_kind = kind_of(items)
            enum = enum or tuple(items.get("enum") or ())
        raw_resolved = resolve(raw, root)
        yield Param(
            tool=tool.name,
            name=str(name),
            kind=kind_of(schema),
            required=name in required,
            nullable=nullable,
            schema=schema,
            default=raw_resolved.get("default"),
            has_default="default" in raw_resolved,
            ref=str(ref) if ref else None,
            enum=enum,
            item_kind=item_kind,
            fields=tuple(fields.get(str(name), ())),
            description=str(raw_resolved.get("description") or schema.get("description") or ""),
        )


def build_graph(tools: Mapping[str, ToolInfo], seed: State) -> ToolGraph:
    """Build the graph of `tools` over the state `seed`; deterministic for the same inputs."""
    fields = _field_names(seed)
    keys = key_fields(seed)
    links = record_links(seed, keys)
    # Where tools declare no refs, a parameter named like a link field (or a key field) refers to its collection.
    named: dict[str, set[str]] = {}
    for link in links:
        named.setdefault(link.sub or link.field, set()).add(link.target)
    for coll, key in keys.items():
        if key is not None:
            named.setdefault(key, set()).add(coll)
    declared = any(tool.refs for tool in tools.values())
    by_name = {} if declared else {name: next(iter(c)) for name, c in named.items() if len(c) == 1}
    params = {name: list(_params(tool, fields, by_name)) for name, tool in sorted(tools.items())}
    outputs = {name: _output_names(tool.output_schema) for name, tool in sorted(tools.items())}
    edges: list[Edge] = []
    for consumer, plist in params.items():
        for param in plist:
            wanted = {param.name}
            if param.ref and keys.get(param.ref):
                wanted.add(str(keys[param.ref]))
            for producer, names in outputs.items():
                if producer == consumer:
                    continue
                for output_field in sorted(wanted & names):
                    edges.append(Edge(producer, output_field, consumer, param.name))
    return ToolGraph(dict(sorted(tools.items())), params, keys, outputs, edges, links)
