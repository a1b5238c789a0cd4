"""Decide what each operation of a document becomes: resources with their keys, and one plan per operation.

Operations are grouped by the collection path they address, with parameter
names ignored (`/pets`, `/pets/{petId}` and `/pets/{id}/cancel` all belong to
`/pets`). A group is a *resource* when it has an item path or a list: its
record is the object its operations return (a response envelope such as
`{data: [...], total}` is looked through), and its key is the field the item
path names (`{sid}` -> `sid`, `{issue_number}` -> `number`), else an id by name
(`id`, `petId`, `pet_id`, `uuid`, `slug`, ...), else a key field added under
the item parameter's name. A key field the document types as an integer keeps
integer keys. Groups that return the same schema share one collection,
whatever their paths (`/pet/findByStatus` lists the `pet` collection). A
collection nested under another's item path (`/owners/{ownerId}/pets`) links to
it through the record field the path parameter names, added when the schema
has none; one whose item path has other parameters before its own with no
resource behind them (`/repos/{owner}/{repo}/issues/{issue_number}`) is keyed
by all of them together, a composite key `(owner, repo, number)`, with fields
added for those the record lacks.

The caller's own paths (`/me`, `/me/...`, and `/user` where the document has
no `/user/{id}`) act for the session's principal: `GET /me` reads the record
the principal names and `PUT`/`PATCH /me` changes it. Those paths, and every
operation that documents a 401 or 403 response, need a signed-in caller, with
the OAuth scopes the operation's security requirement lists.

Everything else becomes a tool too, of a kind said in the report: an action
on a record (`POST /visits/{id}/cancel`: the record must exist, body fields
that are record fields are set), a singleton read or write (`GET /settings`,
`PUT /settings`), a request recorded in the `requests` collection (`POST
/sms`), or a read-only stub that returns a fixed sample of the documented
response. HEAD, OPTIONS and TRACE are reported and left out.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from mcpfactory.openapi._document import Document, Operation, snake
from mcpfactory.openapi._schema import camel
from mcpfactory.openapi._shape import Field, Shape

__all__ = ["Plan", "PlanKind", "Resource", "plan_document"]

PlanKind = Literal[
    "list",
    "get",
    "create",
    "update",
    "delete",
    "action",
    "read_one",
    "write_one",
    "read_me",
    "write_me",
    "call",
    "stub",
]

_ID_NAMES = ("uuid", "uid", "gid", "sid", "slug", "key", "code", "handle", "username", "login", "name")
_GENERIC = {"list", "all", "search", "find", "query", "filter", "v1", "v2", "v3", "v4", "api", "rest", "public"}
RESERVED_COLLECTIONS = {"requests", "collections", "counters"}
_ENVELOPE_ONE = ("data", "result", "item", "resource", "record", "object", "entity", "payload", "value", "body")
_ME = {"me", "self", "myself", "current_user", "currentuser"}


@dataclass
class Resource:
    """A collection of records with string keys, and the paths that reach it."""

    name: str
    record: Shape
    key: str
    key_added: bool = False
    key_was: str | None = None  # the key field's type in the document, when it was not a string or an integer
    key_kind: Literal["str", "int"] = "str"  # the key field's own keys (the last part of a composite key)
    scope: list[tuple[str, str]] = field(default_factory=list)  # (path parameter, record field) before the key
    links: dict[str, Resource] = field(default_factory=dict)  # record field -> parent resource (nesting)
    refs: dict[str, Resource] = field(default_factory=dict)  # record field -> referenced resource (by name)
    singleton: bool = False
    group: str = ""

    @property
    def singular(self) -> str:
        return singular(self.name)

    @property
    def key_fields(self) -> str | list[str]:
        """The spec's `key:`: the key field, or the scope's fields and the key field of a composite key."""
        return [*(f for _, f in self.scope), self.key] if self.scope else self.key


@dataclass
class Plan:
    """What one operation becomes; `reason` says why it is a stub or left out."""

    operation: Operation
    kind: PlanKind | None
    resource: Resource | None = None
    id_param: str | None = None  # the path parameter that names the record
    parent_param: str | None = None  # the path parameter that names the parent record
    parent_field: str | None = None
    payload: Shape | None = None  # the response, envelope looked through
    reason: str | None = None
    scopes: list[str] | None = None  # what a caller needs: None for anyone, [] for any signed-in caller


def singular(name: str) -> str:
    if name.endswith("ies") and len(name) > 4:
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "zes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith(("ss", "us", "is")) and len(name) > 2:
        return name[:-1]
    return name


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _name_variants(name: str) -> set[str]:
    return {name, name.lower(), snake(name), snake(name).replace("_", "")}


@dataclass
class _Group:
    key: str  # normalised collection path, e.g. /owners/{}/pets
    literal: str  # its last literal segment
    list_ops: list[Operation] = field(default_factory=list)  # GET on the collection path
    create_ops: list[Operation] = field(default_factory=list)  # POST on the collection path
    other_ops: list[Operation] = field(default_factory=list)  # PUT/PATCH/DELETE on the collection path
    item_ops: list[Operation] = field(default_factory=list)  # any method on the item path
    item_params: list[str] = field(default_factory=list)


def unwrap(shape: Shape | None) -> tuple[Literal["many", "one", "none"], Shape | None]:
    """What a response holds: many records (a list, or a list inside an envelope), one object, or nothing usable."""
    if shape is None:
        return "none", None
    if shape.kind == "list" and shape.item is not None and shape.item.kind == "object":
        return "many", shape.item
    if shape.kind == "object":
        lists = [f.shape for f in shape.fields.values() if f.shape.kind == "list" and f.shape.item is not None]
        record_lists = [s.item for s in lists if s.item is not None and s.item.kind == "object"]
        if len(record_lists) == 1 and len(shape.fields) <= 8 and not _id_field_by_name(shape, ()):
            return "many", record_lists[0]
        for name in _ENVELOPE_ONE:
            inner = shape.fields.get(name)
            if (
                inner is not None
                and inner.shape.kind == "object"
                and len(shape.fields) <= 6
                and not _id_field_by_name(shape, ())
            ):
                return "one", inner.shape
        return "one", shape
    return "none", None


def _id_field_by_name(record: Shape, item_params: Iterable[str], singular_name: str = "") -> str | None:
    fields = record.fields
    usable = {n for n, f in fields.items() if f.shape.kind in ("str", "int", "literal") and n.isidentifier()}
    for param in item_params:
        for name in usable:
            if _name_variants(name) & _name_variants(param):
                return name
        # `issue_number` on /issues/{issue_number} names the issue's `number`
        stem = snake(singular_name) + "_" if singular_name else ""
        rest = snake(param)[len(stem) :] if stem and snake(param).startswith(stem) else ""
        for name in sorted(usable):
            if rest and snake(name) == rest:
                return name
    candidates = ["id", "Id", "ID", "_id"]
    if singular_name:
        stem = singular_name
        candidates += [f"{camel(stem)[:1].lower()}{camel(stem)[1:]}Id", f"{stem}_id", f"{stem}Id", f"{stem}ID"]
    for name in candidates:
        if name in usable:
            return name
    for name in usable:
        if name.lower() in ("id", f"{singular_name.replace('_', '')}id"):
            return name
    for name in _ID_NAMES:
        if name in usable:
            return name
    return None


def plan_document(doc: Document) -> tuple[list[Resource], list[Plan]]:
    """Find the resources of a document and say what each of its operations becomes."""
    groups: dict[str, _Group] = {}
    positions: dict[int, tuple[str, str]] = {}  # id(operation) -> (group key, role)
    for operation in doc.operations:
        if operation.method in ("head", "options", "trace"):
            continue
        segments = operation.segments
        if not segments:
            continue
        if _is_param(segments[-1]) and len(segments) >= 2 and not _is_param(segments[-2]):
            key = _normal(segments[:-1])
            group = groups.setdefault(key, _Group(key, segments[-2]))
            group.item_ops.append(operation)
            group.item_params.append(segments[-1][1:-1])
            positions[id(operation)] = (key, "item")
        elif not _is_param(segments[-1]):
            key = _normal(segments)
            group = groups.setdefault(key, _Group(key, segments[-1]))
            role = {"get": "list", "post": "create"}.get(operation.method, "other")
            {"list": group.list_ops, "create": group.create_ops, "other": group.other_ops}[role].append(operation)
            positions[id(operation)] = (key, role)
    resources: dict[str, Resource] = {}  # group key -> resource
    by_record: dict[int, Resource] = {}
    names: set[str] = set(RESERVED_COLLECTIONS)
    ordered = sorted(groups.values(), key=lambda g: (not g.item_ops, g.key.count("/"), g.key))
    for group in ordered:
        record = _record_of(group)
        if record is None:
            continue
        has_many = any(unwrap(op.response)[0] == "many" for op in group.list_ops)
        if not group.item_ops and not has_many:
            continue
        existing = by_record.get(id(record))
        if existing is not None and not existing.singleton:
            resources[group.key] = existing
            continue
        resource = _new_resource(group, record, names)
        if resource is None:
            continue
        names.add(resource.name)
        resources[group.key] = resource
        by_record[id(record)] = resource
    _link_parents(groups, resources)
    _find_scopes(groups, resources)
    _find_refs(resources)
    singletons: dict[int, Resource] = {}
    item_users = any(
        len(op.segments) >= 2 and snake(op.segments[0]) == "user" and _is_param(op.segments[1]) for op in doc.operations
    )
    me = _me_resource(doc, resources, by_record, names, item_users)
    plans = [_plan(doc, op, groups, positions, resources, singletons, names, me, item_users) for op in doc.operations]
    unique: list[Resource] = []
    for resource in [*resources.values(), *singletons.values(), *([me] if me is not None else [])]:
        if all(resource is not r for r in unique):
            unique.append(resource)
    return unique, plans


def _normal(segments: list[str]) -> str:
    return "/" + "/".join("{}" if _is_param(s) else s for s in segments)


def _record_of(group: _Group) -> Shape | None:
    candidates: list[Shape | None] = []
    for op in group.item_ops:
        if op.method == "get":
            candidates.append(unwrap(op.response)[1])
    for op in group.list_ops:
        kind, shape = unwrap(op.response)
        if kind == "many":
            candidates.append(shape)
    for op in [*group.create_ops, *group.item_ops]:
        if op.method in ("post", "put", "patch"):
            kind, shape = unwrap(op.response)
            if kind == "one":
                candidates.append(shape)
    for shape in candidates:
        if shape is not None and shape.kind == "object" and shape.fields:
            return shape
    return None


def _collection_name(group: _Group, taken: set[str]) -> str:
    literals = [s for s in group.key.strip("/").split("/") if s != "{}"]
    words = [w for w in literals if snake(w) not in _GENERIC] or literals
    base = snake(words[-1]) if words else "records"
    if not base[0].isalpha():
        base = f"c_{base}"
    if keyword.iskeyword(base) or base in ("state", "rng", "now"):
        base += "_records"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def _new_resource(group: _Group, record: Shape, taken: set[str]) -> Resource | None:
    name = _collection_name(group, taken)
    key = _id_field_by_name(record, group.item_params, singular(snake(group.literal)))
    resource = Resource(name, record, key or "", group=group.key)
    if key is None:
        base = group.item_params[0] if group.item_params else "id"
        key = base if base.isidentifier() and not keyword.iskeyword(base) else snake(base)
        if key in record.fields:
            key = f"{key}_key"
        resource.key = key
        resource.key_added = True
        record.fields = {key: Field(Shape("str"), True, "The record's key."), **record.fields}
        return resource
    found = record.fields[key]
    if found.shape.kind == "int" and not found.shape.nullable:
        resource.key_kind = "int"  # integer keys stay integers; the server hands them out from 1
        record.fields[key] = Field(Shape("int"), True, found.description)
    elif found.shape.kind != "str" or found.shape.nullable or found.shape.constraints:
        resource.key_was = found.shape.kind if found.shape.kind != "literal" else "enum"
        record.fields[key] = Field(Shape("str"), True, found.description)
    elif not found.required:
        record.fields[key] = Field(found.shape, True, found.description)
    return resource


def _link_parents(groups: dict[str, _Group], resources: dict[str, Resource]) -> None:
    for key, resource in resources.items():
        group = groups[key]
        parts = key.strip("/").split("/")
        if "{}" not in parts:
            continue
        index = len(parts) - 1 - parts[::-1].index("{}")
        parent = resources.get("/" + "/".join(parts[:index]))
        if parent is None or parent is resource:
            continue
        ops = [*group.list_ops, *group.create_ops, *group.item_ops]
        param = next((op.segments[index][1:-1] for op in ops if len(op.segments) > index), None)
        if param is None:
            continue
        link = _link_field(resource, parent, param)
        resource.links[link] = parent


def _link_field(resource: Resource, parent: Resource, param: str) -> str:
    fields = resource.record.fields
    stem = parent.singular
    for name in fields:
        if name == resource.key:
            continue
        variants = _name_variants(name)
        named = variants & _name_variants(param) or variants & {f"{stem}id", f"{stem}_id", snake(f"{stem}Id")}
        if named and fields[name].shape.kind in ("str", "int"):
            fields[name] = Field(Shape(parent.key_kind, fields[name].shape.nullable), fields[name].required)
            return name
    name = param if param.isidentifier() and not keyword.iskeyword(param) else snake(param)
    while name in fields:
        name += "_ref"
    description = f"The {parent.singular.replace('_', ' ')} it belongs to."
    fields[name] = Field(Shape(parent.key_kind, True), False, description)
    return name


def _find_scopes(groups: dict[str, _Group], resources: dict[str, Resource]) -> None:
    """Key a resource by its item path's parameters together where the outer ones name no parent resource."""
    done: set[int] = {id(parent) for r in resources.values() for parent in r.links.values()}  # parents keep one key
    for key, resource in resources.items():
        if id(resource) in done or resource.links or resource.singleton or key != resource.group:
            continue
        done.add(id(resource))
        item = next((op for op in groups[key].item_ops), None)
        if item is None:
            continue
        outer = [s[1:-1] for s in item.segments[:-1] if _is_param(s)]
        if not outer or len(outer) > 4:
            continue
        shapes = {p.name: p.shape for p in item.params if p.location == "path"}
        fields = resource.record.fields
        scope: list[tuple[str, str]] = []
        for param in outer:
            shape = shapes.get(param)
            kind: Literal["str", "int"] = "int" if shape is not None and shape.kind == "int" else "str"
            name = param if param.isidentifier() and not keyword.iskeyword(param) else snake(param)
            existing = fields.get(name)
            if existing is not None and (
                existing.shape.kind != kind or existing.shape.nullable or name == resource.key
            ):
                while name in fields:
                    name += "_key"
                existing = None
            described = existing.description if existing is not None else f"Part of the key: the {param} it is under."
            fields[name] = Field(Shape(kind), True, described)
            scope.append((param, name))
        if len({f for _, f in scope}) == len(scope):
            resource.scope = scope


def _is_me(segments: list[str], item_users: bool) -> bool:
    """Whether a path acts for the caller: `/me...`, or `/user...` when `/user/{id}` is not a path of the document."""
    if not segments or _is_param(segments[0]):
        return False
    first = snake(segments[0])
    return first in _ME or (first == "user" and not item_users and (len(segments) == 1 or not _is_param(segments[1])))


def _me_resource(
    doc: Document, resources: dict[str, Resource], by_record: dict[int, Resource], names: set[str], item_users: bool
) -> Resource | None:
    """The collection whose record `GET /me` returns (made for it when no resource holds that record)."""
    for op in doc.operations:
        if op.method != "get" or len(op.segments) != 1 or not _is_me(op.segments, item_users):
            continue
        kind, payload = unwrap(op.response)
        if kind != "one" or payload is None or payload.kind != "object" or not payload.fields:
            continue
        known = by_record.get(id(payload))
        if known is not None and not known.scope:
            return known
        if known is not None:
            continue
        group = _Group("/users" if snake(op.segments[0]) == "user" else "/accounts", "")
        resource = _new_resource(group, payload, names)
        if resource is None:
            continue
        resource.group = f"/{op.segments[0]}"
        names.add(resource.name)
        by_record[id(payload)] = resource
        return resource
    return None


def _find_refs(resources: dict[str, Resource]) -> None:
    unique = {id(r): r for r in resources.values()}.values()
    for resource in unique:
        scope_fields = {f for _, f in resource.scope}
        for name, spec in resource.record.fields.items():
            if name == resource.key or name in resource.links or name in scope_fields:
                continue
            if spec.shape.kind not in ("str", "int"):
                continue
            for other in unique:
                if other is resource or other.singleton or other.scope:
                    continue
                stem = other.singular
                if snake(name) in (f"{snake(stem)}_id", f"{snake(other.name)}_id"):
                    resource.refs[name] = other
                    # a reference holds a key: a string or an integer, as the target's keys are
                    resource.record.fields[name] = Field(Shape(other.key_kind, spec.shape.nullable), spec.required)
                    break


def _plan(
    doc: Document,
    op: Operation,
    groups: dict[str, _Group],
    positions: dict[int, tuple[str, str]],
    resources: dict[str, Resource],
    singletons: dict[int, Resource],
    names: set[str],
    me: Resource | None,
    item_users: bool,
) -> Plan:
    if op.method in ("head", "options", "trace"):
        return Plan(op, None, reason=f"{op.method.upper()} carries no behaviour of its own (not a tool)")
    plan = _plan_kind(doc, op, groups, positions, resources, singletons, names, me, item_users)
    plan.scopes = _caller_needs(doc, op, item_users)
    return plan


def _caller_needs(doc: Document, op: Operation, item_users: bool) -> list[str] | None:
    """What a caller needs: None for anyone; the OAuth scopes of its security requirement where it documents
    a 401 or 403 response or acts for the caller (`/me`); [] there when it names no scopes."""
    responses = op.op.get("responses")
    codes = {str(code) for code in responses} if isinstance(responses, dict) else set()
    if not ({"401", "403"} & codes or _is_me(op.segments, item_users)):
        return None
    security = op.op.get("security", doc.data.get("security"))
    if not isinstance(security, list):
        return []
    for requirement in security:
        if isinstance(requirement, dict) and requirement:
            scopes = [s for names in requirement.values() if isinstance(names, list) for s in names]
            return sorted({s for s in scopes if isinstance(s, str) and s.strip() and " " not in s})
    return []


def _plan_kind(
    doc: Document,
    op: Operation,
    groups: dict[str, _Group],
    positions: dict[int, tuple[str, str]],
    resources: dict[str, Resource],
    singletons: dict[int, Resource],
    names: set[str],
    me: Resource | None,
    item_users: bool,
) -> Plan:
    segments = op.segments
    if me is not None and len(segments) == 1 and _is_me(segments, item_users):
        kind, payload = unwrap(op.response)
        if op.method == "get":
            return Plan(op, "read_me", me, payload=payload)
        if op.method in ("put", "patch"):
            return Plan(op, "write_me", me, payload=payload)
    kind, payload = unwrap(op.response)
    position = positions.get(id(op))
    if position is not None and position[0] in resources:
        resource = resources[position[0]]
        role = position[1]
        parent = _parent_of(op, resource)
        if role == "item":
            id_param = segments[-1][1:-1]
            item_kinds: dict[str, PlanKind] = {"get": "get", "put": "update", "patch": "update", "delete": "delete"}
            item_kind = item_kinds.get(op.method)
            plan_kind: PlanKind = item_kind or "action"
            return Plan(op, plan_kind, resource, id_param, *parent, payload=payload)
        if role == "list":
            if (kind == "many" and payload is resource.record) or kind != "one":
                return Plan(op, "list", resource, None, *parent, payload=payload)
        elif role == "create":
            if kind == "many" and payload is resource.record and not _writes(op):
                return Plan(op, "list", resource, None, *parent, payload=payload)
            return Plan(op, "create", resource, None, *parent, payload=payload)
        elif (
            role == "other" and op.method in ("put", "patch") and op.body is not None and resource.key in op.body.fields
        ):
            return Plan(op, "update", resource, None, *parent, payload=payload)
    # An operation below an item path: an action on that record.
    for index in range(len(segments) - 1, 0, -1):
        if _is_param(segments[index]) and not _is_param(segments[index - 1]) and index < len(segments) - 1:
            owner = resources.get(_normal(segments[:index]))
            if owner is not None:
                parent = _parent_of(op, owner)
                return Plan(op, "action", owner, segments[index][1:-1], *parent, payload=payload)
            break
    has_params = any(p.location == "path" for p in op.params)
    records = {id(r.record) for r in resources.values()}
    if (
        op.method == "get"
        and kind == "one"
        and payload is not None
        and payload.kind == "object"
        and payload.fields
        and not has_params
        and id(payload) not in records
    ):
        return Plan(op, "read_one", _singleton(payload, segments, singletons, names), payload=payload)
    if op.method in ("put", "patch") and op.body is not None and op.body.kind == "object" and not has_params:
        for resource in singletons.values():
            if op.body is resource.record or set(op.body.fields) <= set(resource.record.fields):
                return Plan(op, "write_one", resource, payload=payload)
    if op.method == "get":
        return Plan(
            op,
            "stub",
            payload=op.response,
            reason="a read with no record to look up: returns a fixed sample of its documented response",
        )
    return Plan(op, "call", payload=op.response)


def _writes(op: Operation) -> bool:
    words = snake(op.operation_id or "").split("_")
    return not any(w in ("search", "find", "query", "list", "filter", "lookup") for w in words)


def _parent_of(op: Operation, resource: Resource) -> tuple[str | None, str | None]:
    segments = op.segments
    for link, parent in resource.links.items():
        for index in range(len(segments) - 1, 0, -1):
            if (
                _is_param(segments[index])
                and index + 1 < len(segments)
                and not _is_param(segments[index + 1])
                and snake(segments[index - 1]) == snake(parent.group.rsplit("/", 1)[-1])
            ):
                return segments[index][1:-1], link
    return None, None


def _singleton(payload: Shape, segments: list[str], singletons: dict[int, Resource], names: set[str]) -> Resource:
    found = singletons.get(id(payload))
    if found is not None:
        return found
    literals = [s for s in segments if not _is_param(s)]
    group = _Group("/" + "/".join(literals), literals[-1] if literals else "current")
    name = _collection_name(group, names)
    names.add(name)
    resource = Resource(name, payload, "", singleton=True, group=group.key)
    singletons[id(payload)] = resource
    return resource
