"""Write the spec of a planned document: collections with seeds, a tool per plan, invariants.

Choices, each reported where it applies:

- keys are strings or integers (as the document types the key field; a key
  of any other type becomes a string key), and a record addressed by several
  path parameters has a composite key of all of them;
- list operations with paging parameters (`limit` with `offset`/`skip`,
  `page`, or a `cursor`/`page_token`) return typed pages;
- operations that document a 401 or 403 response, or act for the caller
  (`/me`), need a signed-in caller (and the OAuth scopes they list); `GET /me`
  reads the record the caller's principal names;
- a field named after another resource's id (`ownerId`, `pet_id`) becomes
  `ref[<collection>]`, with an invariant that it points at a record that
  exists, a check in every tool that sets it and a refusal to delete a record
  still referenced (nested collections the same, through their link field);
- creates take their keys from a per-collection counter in the `counters`
  collection, so a key is never handed out twice, even after a delete;
- updates change only the fields given (`null` leaves a field as it is);
  deletes return the record removed;
- seed records are generated from the shapes (the document's examples where
  they fit), four per collection.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

import pydantic

from mcpfactory.openapi._document import Document, Operation, snake
from mcpfactory.openapi._mapping import Plan, Resource
from mcpfactory.openapi._sample import Sampler
from mcpfactory.openapi._schema import camel
from mcpfactory.openapi._shape import Field, Kind, Shape, brief, fits
from mcpfactory.openapi._types import RESERVED_TYPE_NAMES, TypeWriter, constraints

__all__ = ["SEEDS_PER_COLLECTION", "BuiltTool", "SpecWriter"]

SEEDS_PER_COLLECTION = 4
_RESERVED = {"state", "rng", "now", "ToolError", "principal", "scopes", "advance"}
_LOCALS = {"found", "matches", "counter", "new_key", "created", "updated", "removed", "parent", "answer"}
_LOCALS |= {"record_key", "caller"}
_OFFSETS = ("offset", "skip", "start")
_PAGES = ("page", "page_number", "pagenumber", "page_index", "pageindex")
_CURSORS = ("cursor", "page_token", "pagetoken", "next_token", "nexttoken", "continuation_token", "after")
_WIRE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_LIMITS = ("limit", "max_results", "maxresults", "page_size", "pagesize", "per_page", "perpage", "size", "count", "top")
_BUILTINS = {"len", "range", "sorted", "min", "max", "sum", "any", "all", "list", "dict", "set", "str", "int"}
_BUILTINS |= {"float", "bool", "tuple", "print", "type", "id", "map", "filter", "zip", "round", "abs", "open", "input"}
_BUILTINS |= {"format", "hash", "iter", "next", "object", "vars", "dir", "help", "exec", "eval", "compile", "repr"}
_MODULE = {"seed", "build", "main", "env", "datetime", "random", "with_config"}
# Attributes of pydantic's BaseModel, which argument models are: a parameter may not shadow one.
_MODEL_ATTRIBUTES = {name for name in dir(pydantic.BaseModel) if not name.startswith("_")}


@dataclass
class BuiltTool:
    """A tool's spec and how to call it for its examples."""

    name: str
    spec: dict[str, Any]
    plan: Plan
    good: dict[str, Any] = field(default_factory=dict)  # arguments of a call that should succeed
    missing: dict[str, Any] | None = None  # arguments naming a record that does not exist
    in_use: dict[str, Any] | None = None  # arguments of a delete refused because the record is referenced
    optional_extra: dict[str, Any] = field(default_factory=dict)
    stub: bool = False
    page: dict[str, Any] | None = None  # the spec's `page:` of a list that pages its results


@dataclass
class _Param:
    variable: str
    wire: str
    spec: dict[str, Any]
    shape: Shape
    required: bool
    stored: str | None = None  # the record field it sets
    location: str = "body"  # path, query or body


def _q(value: Any) -> str:
    """A Python literal for generated bodies."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_q(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_q(str(k))}: {_q(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


class SpecWriter:
    """Builds the spec mapping of one planned document; `notes` are (JSON pointer, message) pairs."""

    def __init__(self, doc: Document, resources: list[Resource], plans: list[Plan]) -> None:
        self.doc = doc
        self.resources = resources
        self.plans = plans
        self.sampler = Sampler()
        self.notes: list[tuple[str, str]] = []
        self._record_names: set[str] = set()
        self.writer = TypeWriter({id(r.record): self._record_name(r) for r in resources})
        self.seeds: dict[str, list[dict[str, Any]]] = {}
        self.prefix: dict[str, str] = {}
        used: set[str] = set()
        for resource in resources:
            stem = re.sub(r"[^a-z0-9]", "", resource.singular.lower())[:4] or "rec"
            prefix, number = stem, 2
            while prefix in used:
                prefix, number = f"{stem}{number}", number + 1
            used.add(prefix)
            self.prefix[resource.name] = prefix + "-"
        self.tool_names: set[str] = set()
        self.counters: set[str] = set()
        self.uses_requests = False
        self._caller = Shape("object", fields={"id": Field(Shape("str"), True, "Who calls.")}, name="Caller")

    def _record_name(self, resource: Resource) -> str:
        """A record type name of its own: the schema's name unless a reserved or taken one."""
        name = resource.record.name or camel(resource.singular)
        base, number = name + ("Record" if name in RESERVED_TYPE_NAMES else ""), 2
        name = base
        while name in self._record_names:
            name, number = f"{base}{number}", number + 1
        self._record_names.add(name)
        resource.record.name = name
        return name

    # ------------------------------------------------------------------ collections and seeds

    def key_of(self, resource: Resource, index: int) -> str | int:
        """The key (its last part, for a composite key) of the `index`-th seed record of `resource`."""
        if resource.singleton:
            return "current"
        return index if resource.key_kind == "int" else f"{self.prefix[resource.name]}{index}"

    def scope_of(self, resource: Resource) -> dict[str, Any]:
        """The values of a composite key's scope fields, the same for every seed record: one parent holds them all."""
        return {
            field_name: self.sampler.value(resource.record.fields[field_name].shape, field_name, 1)
            for _, field_name in resource.scope
        }

    def collections(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for resource in self.resources:
            fields = self.writer.fields(resource.record)
            key = resource.key
            for link in {**resource.refs, **resource.links}:
                target = {**resource.refs, **resource.links}[link]
                spec = fields.get(link)
                optional = isinstance(spec, dict) and spec.get("optional")
                nullable = resource.record.fields[link].shape.nullable
                entry: dict[str, Any] = {"type": f"ref[{target.name}]" + (" | None" if nullable else "")}
                if isinstance(spec, dict) and spec.get("description"):
                    entry["description"] = spec["description"]
                if optional:
                    entry["optional"] = True
                fields[link] = entry if len(entry) > 1 else entry["type"]
            collection: dict[str, Any] = {"record": self.writer.records[id(resource.record)]}
            collection["key"] = resource.key_fields if key else _free_name("key", resource.record.fields)
            if resource.record.description:
                collection["description"] = brief(resource.record.description, 100)
            collection["fields"] = fields
            collection["seed"] = self._seed(resource) if not resource.singleton else {"current": self._one(resource, 1)}
            out[resource.name] = collection
        if self.counters:
            out["counters"] = {
                "record": "Counter",
                "key": "collection",
                "description": "The last number each collection handed out as a key; keys are never reused.",
                "fields": {"collection": "str", "last": "int"},
                "seed": [
                    {"collection": c, "last": SEEDS_PER_COLLECTION if c != "requests" else 0}
                    for c in sorted(self.counters)
                ],
            }
        if self.uses_requests:
            out["requests"] = {
                "record": "RecordedRequest",
                "key": "request_id",
                "description": "Requests made to operations that keep no other state, in order.",
                "fields": {"request_id": "str", "operation": "str", "arguments": "dict[str, any]"},
                "seed": [],
            }
        return out

    def _one(self, resource: Resource, index: int) -> dict[str, Any]:
        record: dict[str, Any] = {}
        links = {**resource.refs, **resource.links}
        scope = self.scope_of(resource)
        for prop, spec in resource.record.fields.items():
            if prop == resource.key:
                record[prop] = self.key_of(resource, index)
            elif prop in scope:
                record[prop] = scope[prop]
            elif prop in links:
                target = links[prop]
                if target.singleton:
                    continue
                # The last record of a target is never referenced, so it can be deleted.
                record[prop] = self.key_of(target, (index - 1) % (SEEDS_PER_COLLECTION - 1) + 1)
            elif spec.required or index % 2 == 1:
                record[prop] = self.sampler.value(spec.shape, prop, index)
        return record

    def auth(self, tools: list[BuiltTool]) -> dict[str, Any] | None:
        """The spec's `auth:` when a tool needs a signed-in caller: the caller is the first seed record of the
        collection `/me` reads (or a bare `Caller` with an id), holding every scope the tools need."""
        needing = [t for t in tools if t.plan.scopes is not None]
        if not needing:
            return None
        scopes = sorted({s for t in needing for s in t.plan.scopes or []})
        me = next((t.plan.resource for t in tools if t.plan.kind in ("read_me", "write_me")), None)
        if me is not None and self.seeds.get(me.name):
            principal, default = self.writer.records[id(me.record)], dict(self.seeds[me.name][0])
        else:
            principal = self.writer.name(self._caller)
            default = {"id": "caller-1"}
        return {"principal": principal, "default": default, "scopes": scopes}

    def _seed(self, resource: Resource) -> list[dict[str, Any]]:
        records = [self._one(resource, index) for index in range(1, SEEDS_PER_COLLECTION + 1)]
        self.seeds[resource.name] = records
        return records

    # ------------------------------------------------------------------ tools

    def _tool_name(self, op: Operation, fallback: str) -> str:
        raw = op.operation_id or fallback
        name = snake(raw)[:60].strip("_") or "call"
        if not name[0].isalpha():
            name = f"op_{name}"[:60]
        if keyword.iskeyword(name) or name in _BUILTINS or name in _MODULE or name in _RESERVED:
            name += "_op"
        base, number = name, 2
        while name in self.tool_names:
            name, number = f"{base[:58]}_{number}", number + 1
        self.tool_names.add(name)
        return name

    def _variable(self, wire: str, taken: set[str]) -> tuple[str, str]:
        wire_ok = wire
        if not _WIRE.match(wire_ok):
            wire_ok = snake(wire)
            wire_ok = (wire_ok if wire_ok[0].isalpha() else f"p_{wire_ok}")[:60]
        variable = wire_ok if wire_ok.isidentifier() and not keyword.iskeyword(wire_ok) else snake(wire_ok)
        if not variable.isidentifier() or keyword.iskeyword(variable) or variable[0].isdigit():
            variable = f"p_{variable}"
        if (
            variable in _RESERVED
            or variable in _LOCALS
            or variable in _BUILTINS
            or variable in _MODEL_ATTRIBUTES
            or variable.startswith("_")
        ):
            variable = f"{variable.strip('_') or 'p'}_value"
        base, number = variable, 2
        while variable in taken:
            variable, number = f"{base}_{number}", number + 1
        base_wire, number = wire_ok[:60], 2
        while wire_ok in taken:
            wire_ok, number = f"{base_wire}_{number}", number + 1
        return variable, wire_ok

    def _param_spec(self, shape: Shape, required: bool, description: str | None) -> dict[str, Any]:
        type_text = self.writer.type_of(shape)
        entry: dict[str, Any] = {"type": type_text}
        description = brief(description, 120)
        if description:
            entry["description"] = description
        if not required:
            if not type_text.endswith("| None"):
                entry["type"] = f"{type_text} | None"
            entry["default"] = None
        entry.update(constraints(shape))
        return entry

    def _params(self, plan: Plan, resource: Resource | None) -> list[_Param]:
        """The tool's parameters: path and query parameters, then the request body's fields."""
        op = plan.operation
        out: list[_Param] = []
        taken: set[str] = set()
        for param in op.params:
            if param.location in ("header", "cookie"):
                if param.required:
                    self.notes.append((op.pointer, f"{param.location} parameter {param.name!r} left out"))
                continue
            made = self._one_param(param.name, param.shape, param.required, param.description, taken, resource, plan)
            made.location = param.location
            out.append(made)
        body = op.body
        if body is not None:
            if body.kind == "object" and body.fields:
                for prop, spec in body.fields.items():
                    if spec.shape.read_only or any(p.wire == prop for p in out):
                        continue
                    if resource is not None and prop == resource.key and (plan.kind == "create" or plan.id_param):
                        continue  # the server hands out keys; an item path names the record already
                    out.append(
                        self._one_param(
                            prop,
                            spec.shape,
                            spec.required and op.body_required,
                            spec.description,
                            taken,
                            resource,
                            plan,
                            body=True,
                        )
                    )
            elif body.kind != "object":
                out.append(self._one_param("body", body, op.body_required, "The request body.", taken, None, plan))
        return out

    def _one_param(
        self,
        wire: str,
        shape: Shape,
        required: bool,
        description: str | None,
        taken: set[str],
        resource: Resource | None,
        plan: Plan,
        *,
        body: bool = False,
    ) -> _Param:
        variable, wire_ok = self._variable(wire, taken | {p for p in taken})
        taken.add(variable)
        taken.add(wire_ok)
        if wire_ok != wire:
            self.notes.append((plan.operation.pointer, f"argument {wire!r} is named {wire_ok!r} here"))
        stored = None
        scope_fields = {f for _, f in resource.scope} if resource is not None else set()
        if resource is not None and body and wire in resource.record.fields and wire != resource.key:
            stored = wire if wire not in scope_fields else None  # a key's parts never change
            shape = resource.record.fields[wire].shape  # what the record holds decides what the tool takes
        if shape.binary:
            description = (description + " " if description else "") + "(binary content, as text)"
        spec = self._param_spec(shape, required, description)
        if variable != wire_ok:
            spec["alias"] = wire_ok
        return _Param(variable, wire_ok, spec, shape, required, stored)

    def _describe(self, op: Operation, fallback: str) -> str:
        return op.summary() or fallback

    def _canned(self, shape: Shape | None) -> tuple[str, Any]:
        if shape is None:
            return "dict[str, any]", {}
        value = self.sampler.value(shape, "value", 1)
        type_text = self.writer.type_of(shape)
        if not fits(shape, value):
            return "any", value
        return type_text, value

    def tool(self, plan: Plan) -> BuiltTool:
        """The tool an operation's plan becomes (raises on a mapping bug, which the caller reports)."""
        op = plan.operation
        resource = plan.resource
        kind = plan.kind
        params = self._params(
            plan, resource if kind in ("create", "update", "action", "write_one", "write_me") else None
        )
        handler = {
            "list": self._list,
            "get": self._get,
            "create": self._create,
            "update": self._update,
            "delete": self._delete,
            "action": self._action,
            "read_one": self._read_one,
            "write_one": self._write_one,
            "read_me": self._read_me,
            "write_me": self._write_me,
            "call": self._call,
            "stub": self._stub,
        }[kind or "stub"]
        fallback = f"{op.method}_{'_'.join(s.strip('{}') for s in op.segments)}"
        name = self._tool_name(op, fallback)
        tool = BuiltTool(name, {}, plan)
        handler(tool, params)
        return tool

    # Each handler fills tool.spec (description, effect, params, returns, errors, body) and the example calls.

    def _finish(
        self,
        tool: BuiltTool,
        params: list[_Param],
        description: str,
        effect: str,
        returns: str,
        errors: dict[str, str],
        lines: list[str],
    ) -> None:
        spec: dict[str, Any] = {"description": self._describe(tool.plan.operation, description), "effect": effect}
        if params:
            spec["params"] = {p.variable: (p.spec if len(p.spec) > 1 else p.spec["type"]) for p in params}
        spec["returns"] = returns
        if tool.page is not None:
            spec["page"] = tool.page
        if tool.plan.scopes is not None:
            spec["scopes"] = list(tool.plan.scopes)
        if errors:
            spec["errors"] = errors
        spec["body"] = "\n".join(lines) + "\n"
        tool.spec = spec
        for p in params:
            if p.wire in tool.good:
                continue
            if p.required:
                tool.good[p.wire] = self.sampler.value(p.shape.without_null(), p.wire, SEEDS_PER_COLLECTION + 1)
        optional = [p for p in params if not p.required and p.wire not in tool.good and p.stored]
        if optional and effect == "write":
            tool.optional_extra = {
                optional[0].wire: self.sampler.value(
                    optional[0].shape.without_null(), optional[0].wire, SEEDS_PER_COLLECTION + 2
                )
            }

    def _not_found(self, resource: Resource) -> tuple[str, str]:
        code = f"{snake(resource.singular)}_not_found"
        return code, f"No {resource.singular.replace('_', ' ')} {{id}}."

    def _key_param(
        self,
        tool: BuiltTool,
        params: list[_Param],
        wire: str | None,
        resource: Resource,
        errors: dict[str, str],
        lines: list[str],
        *,
        last: bool = False,
    ) -> str:
        """Make the parameter `wire` a key of `resource` (checked to exist); return the key's expression.

        A single key is the parameter itself (`ref[<collection>]`); a composite
        key is the scope's path parameters and this one, `record_key`.
        """
        param = self._path_param(params, wire or resource.key, resource.key_kind)
        keep = {"alias": param.spec["alias"]} if "alias" in param.spec else {}
        param.spec = {"type": f"ref[{resource.name}]" if not resource.scope else resource.key_kind, **keep}
        if param.spec.get("alias") is None and param.variable != param.wire:
            param.spec["alias"] = param.wire
        param.required = True
        param.shape = Shape(resource.key_kind)
        code, message = self._not_found(resource)
        errors[code] = message
        keys = [self.key_of(resource, i) for i in range(1, SEEDS_PER_COLLECTION + 1)]
        tool.good[param.wire] = keys[-1] if last else keys[0]
        if tool.missing is None:
            tool.missing = {param.wire: 0 if resource.key_kind == "int" else "missing-0"}
        if not resource.scope:
            lines += [
                f"if {param.variable} not in state.{resource.name}:",
                f"    raise ToolError({_q(code)}, id={param.variable})",
            ]
            return param.variable
        parts = [
            self._scope_param(tool, params, resource, wire_name, field_name) for wire_name, field_name in resource.scope
        ]
        lines += [
            f"record_key = ({', '.join(parts)}, {param.variable})",
            f"if record_key not in state.{resource.name}:",
            f"    raise ToolError({_q(code)}, id=str(record_key))",
        ]
        return "record_key"

    def _path_param(self, params: list[_Param], wire: str, kind: Kind) -> _Param:
        """The parameter named `wire` (added as a required one of type `kind` when the operation lacks it)."""
        param = next((p for p in params if p.wire == wire or p.wire == snake(wire)), None)
        if param is None:
            taken = {p.variable for p in params} | {p.wire for p in params}
            variable, wire_ok = self._variable(wire, taken)
            param = _Param(variable, wire_ok, {}, Shape(kind), True, location="path")
            params.insert(0, param)
        return param

    def _scope_param(
        self, tool: BuiltTool, params: list[_Param], resource: Resource, wire: str, field_name: str
    ) -> str:
        """A path parameter that is part of a composite key (as the record's `field_name` holds it); its variable."""
        kind = resource.record.fields[field_name].shape.kind
        param = self._path_param(params, wire, kind)
        keep: dict[str, Any] = {k: param.spec[k] for k in ("alias", "description") if k in param.spec}
        param.spec = {"type": kind, **keep}
        if param.spec.get("alias") is None and param.variable != param.wire:
            param.spec["alias"] = param.wire
        param.required = True
        param.shape = Shape(kind)
        param.stored = None
        tool.good[param.wire] = self.scope_of(resource)[field_name]
        return param.variable

    def _parent(
        self, tool: BuiltTool, params: list[_Param], errors: dict[str, str], lines: list[str]
    ) -> tuple[str, str] | None:
        plan = tool.plan
        resource = plan.resource
        if resource is None or plan.parent_param is None or plan.parent_field is None:
            return None
        parent = resource.links.get(plan.parent_field)
        if parent is None:
            return None
        variable = self._key_param(tool, params, plan.parent_param, parent, errors, lines)
        return variable, plan.parent_field

    def _ref_checks(
        self, resource: Resource, params: list[_Param], errors: dict[str, str], lines: list[str], tool: BuiltTool
    ) -> None:
        links = {**resource.refs, **resource.links}
        for p in params:
            target = links.get(p.stored or "")
            if target is None or target.singleton:
                continue
            p.spec["type"] = f"ref[{target.name}]" + (" | None" if not p.required else "")
            for key in ("min_length", "max_length", "pattern", "format"):
                p.spec.pop(key, None)
            p.shape = Shape("str", not p.required)
            code, message = self._not_found(target)
            errors[code] = message
            lines += [
                f"if {p.variable} is not None and {p.variable} not in state.{target.name}:",
                f"    raise ToolError({_q(code)}, id={p.variable})",
            ]
            tool.good[p.wire] = self.key_of(target, 1)

    def _list(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        errors: dict[str, str] = {}
        lines: list[str] = []
        parent = self._parent(tool, params, errors, lines)
        conditions: list[str] = []
        if parent is not None:
            conditions.append(f'found.get("{parent[1]}") != {parent[0]}')
        fields = resource.record.fields
        scope = dict(resource.scope)
        paging = self._paging(params)
        limit = offset = None  # an unpaged list's own limit or offset, applied as given
        for p in params:
            if parent is not None and p.variable == parent[0]:
                continue
            if paging is not None and p.wire in paging[1]:
                continue
            if p.location == "path" and p.wire in scope:  # part of the key: the list is the records under it
                self._scope_param(tool, params, resource, p.wire, scope[p.wire])
                conditions.append(f'found["{scope[p.wire]}"] != {p.variable}')
                continue
            field_spec = fields.get(p.wire)
            if field_spec is not None and _comparable(field_spec.shape) and p.wire not in resource.links:
                p.shape = field_spec.shape
                p.spec = {
                    **self._param_spec(field_spec.shape, False, p.spec.get("description")),
                    **({"alias": p.spec["alias"]} if "alias" in p.spec else {}),
                }
                p.required = False
                conditions.append(f'{p.variable} is not None and found.get("{p.wire}") != {p.variable}')
            elif p.wire.lower() in _LIMITS and p.shape.kind == "int" and limit is None:
                limit = p.variable
            elif p.wire.lower() in _OFFSETS and p.shape.kind == "int" and offset is None:
                offset = p.variable
            elif p.required:
                continue  # a path parameter of an outer level; accepted as it is
        lines += ["matches = []", f"for found in state.{resource.name}.values():"]
        for condition in conditions:
            lines += [f"    if {condition}:", "        continue"]
        lines.append("    matches.append(found)")
        if offset:
            lines += [f"if {offset} is not None:", f"    matches = matches[max({offset}, 0) :]"]
        if limit:
            lines += [f"if {limit} is not None:", f"    matches = matches[: max({limit}, 0)]"]
        lines.append("return matches")
        if paging is not None:
            params[:] = [p for p in params if p.wire not in paging[1]]
            tool.page = paging[0]
        record = self.writer.records[id(resource.record)]
        self._finish(tool, params, f"List {resource.name.replace('_', ' ')}.", "read", f"list[{record}]", errors, lines)

    def _paging(self, params: list[_Param]) -> tuple[dict[str, Any], set[str]] | None:
        """The `page:` of a list whose parameters page it (a limit with an offset, a page number or a cursor),
        and the parameters it replaces."""

        def named(names: tuple[str, ...], kind: str) -> _Param | None:
            return next(
                (p for p in params if p.location == "query" and snake(p.wire) in names and p.shape.kind == kind),
                None,
            )

        limit = named(tuple(snake(n) for n in _LIMITS), "int")
        if limit is None:
            return None
        for style, start in (
            ("offset", named(_OFFSETS, "int")),
            ("page", named(_PAGES, "int")),
            ("cursor", named(_CURSORS, "str")),
        ):
            if start is None or start.wire == limit.wire:
                continue
            high = limit.shape.constraints.get("maximum")
            max_size = int(high) if isinstance(high, int) and 1 <= high <= 10_000 else 100
            default = limit.shape.default
            size = (
                default
                if isinstance(default, int) and not isinstance(default, bool) and 1 <= default <= max_size
                else min(20, max_size)
            )
            page: dict[str, Any] = {"style": style, "size": size, "max_size": max_size}
            names = {role: p.wire for role, p in ((style, start), ("limit", limit)) if p.wire != role}
            if names:
                page["params"] = names
            return page, {start.wire, limit.wire}
        return None

    def _get(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        errors: dict[str, str] = {}
        lines: list[str] = []
        self._parent(tool, params, errors, lines)
        variable = self._key_param(tool, params, tool.plan.id_param, resource, errors, lines)
        lines.append(f"return state.{resource.name}[{variable}]")
        record = self.writer.records[id(resource.record)]
        self._finish(tool, params, f"Get {_a(resource.singular)}.", "read", record, errors, lines)

    def _counter(self, collection: str, kind: str = "str") -> list[str]:
        self.counters.add(collection)
        prefix = self.prefix.get(collection, "req-")
        made = 'counter["last"]' if kind == "int" else f"f\"{prefix}{{counter['last']}}\""
        return [f'counter = state.counters.edit("{collection}")', 'counter["last"] += 1', f"new_key = {made}"]

    def _create(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        errors: dict[str, str] = {}
        lines: list[str] = []
        parent = self._parent(tool, params, errors, lines)
        # A required reference the body does not carry is asked for: no constant could point at a record.
        links = {**resource.refs, **resource.links}
        stored = {p.stored for p in params}
        for prop, spec in resource.record.fields.items():
            if prop in links and spec.required and prop not in stored and (parent is None or prop != parent[1]):
                taken = {p.variable for p in params} | {p.wire for p in params}
                variable, wire = self._variable(prop, taken)
                entry: dict[str, Any] = {"type": "str"}
                if variable != wire:
                    entry["alias"] = wire
                params.append(_Param(variable, wire, entry, Shape("str"), True, prop))
        self._ref_checks(resource, params, errors, lines, tool)
        scope: dict[str, str] = {}  # scope field -> the expression of its value
        for wire_name, field_name in resource.scope:
            found = next((p for p in params if p.wire == wire_name and p.location == "path"), None)
            if found is not None:
                scope[field_name] = self._scope_param(tool, params, resource, wire_name, field_name)
            else:
                scope[field_name] = _q(self.scope_of(resource)[field_name])
        stored_key = f"({', '.join(scope.values())}, new_key)" if scope else "new_key"
        lines += self._counter(resource.name, resource.key_kind)
        made = (
            'counter["last"]' if resource.key_kind == "int" else f"f\"{self.prefix[resource.name]}{{counter['last']}}\""
        )
        lines += [f"while {stored_key} in state.{resource.name}:", '    counter["last"] += 1', f"    new_key = {made}"]
        items = [f'"{resource.key}": new_key']
        optional: list[_Param] = []
        given = {p.stored: p for p in params if p.stored}
        for prop, spec in resource.record.fields.items():
            if prop == resource.key:
                continue
            if prop in scope:
                items.append(f'"{prop}": {scope[prop]}')
            elif parent is not None and prop == parent[1]:
                items.append(f'"{prop}": {parent[0]}')
            elif prop in given:
                p = given[prop]
                if p.required:
                    items.append(f'"{prop}": {p.variable}')
                elif spec.required:
                    fill = self.sampler.value(spec.shape, prop, 1)
                    items.append(f'"{prop}": {p.variable} if {p.variable} is not None else {_q(fill)}')
                else:
                    optional.append(p)
            elif spec.required:
                items.append(f'"{prop}": {_q(self.sampler.value(spec.shape, prop, 1))}')
        lines.append("created = {" + ", ".join(items) + "}")
        for p in optional:
            lines += [f"if {p.variable} is not None:", f'    created["{p.stored}"] = {p.variable}']
        lines += [f"state.{resource.name}[{stored_key}] = created", "return created"]
        record = self.writer.records[id(resource.record)]
        self._finish(tool, params, f"Create {_a(resource.singular)}.", "write", record, errors, lines)

    def _apply(self, params: list[_Param], target: str, *, skip: set[str]) -> list[str]:
        lines = []
        for p in params:
            if p.stored and p.variable not in skip:
                lines += [f"if {p.variable} is not None:", f'    {target}["{p.stored}"] = {p.variable}']
        return lines

    def _update(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        errors: dict[str, str] = {}
        lines: list[str] = []
        parent = self._parent(tool, params, errors, lines)
        wire = tool.plan.id_param or resource.key
        variable = self._key_param(tool, params, wire, resource, errors, lines)
        for p in params:
            if p.stored and p.required:  # a PUT's required body fields: still only those given change
                p.required = False
                p.spec = {**p.spec, "default": None}
                if not str(p.spec["type"]).endswith("| None"):
                    p.spec["type"] = f"{p.spec['type']} | None"
        self._ref_checks(resource, params, errors, lines, tool)
        lines.append(f"updated = state.{resource.name}.edit({variable})")
        lines += self._apply(params, "updated", skip={variable, parent[0] if parent else ""})
        lines.append("return updated")
        record = self.writer.records[id(resource.record)]
        description = f"Update {_a(resource.singular)}: only the fields given change."
        self._finish(tool, params, description, "write", record, errors, lines)

    def _delete(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        errors: dict[str, str] = {}
        lines: list[str] = []
        self._parent(tool, params, errors, lines)
        variable = self._key_param(tool, params, tool.plan.id_param, resource, errors, lines, last=True)
        for other in self.resources:
            for field_name, target in {**other.refs, **other.links}.items():
                if target is not resource:
                    continue
                code = f"{snake(resource.singular)}_in_use"
                errors[code] = (
                    f"{resource.singular.replace('_', ' ').capitalize()} {{id}} is still referenced by {other.name}."
                )
                lines += [
                    f"for found in state.{other.name}.values():",
                    f'    if found.get("{field_name}") == {variable}:',
                    f"        raise ToolError({_q(code)}, id={variable})",
                ]
                if tool.in_use is None:
                    tool.in_use = {"__key__": self.key_of(resource, 1)}
        lines += [
            f"removed = state.{resource.name}[{variable}]",
            f"del state.{resource.name}[{variable}]",
            "return removed",
        ]
        record = self.writer.records[id(resource.record)]
        self._finish(tool, params, f"Delete {_a(resource.singular)}.", "write", record, errors, lines)
        if tool.in_use is not None:
            wire = next(p.wire for p in params if p.variable == variable)
            tool.in_use = {**tool.good, wire: tool.in_use["__key__"]}

    def _action(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        op = tool.plan.operation
        errors: dict[str, str] = {}
        lines: list[str] = []
        self._parent(tool, params, errors, lines)
        variable = self._key_param(tool, params, tool.plan.id_param, resource, errors, lines)
        effect = "read" if op.method == "get" else "write"
        returns_record = tool.plan.payload is resource.record
        if effect == "write":
            self._ref_checks(resource, params, errors, lines, tool)
            stored = [p for p in params if p.stored and p.variable != variable]
            if stored:
                lines.append(f"updated = state.{resource.name}.edit({variable})")
                lines += self._apply(stored, "updated", skip={variable})
            else:
                for p in params:
                    p.stored = None
        if returns_record:
            lines.append(f"return state.{resource.name}[{variable}]")
            returns = self.writer.records[id(resource.record)]
        else:
            returns, value = self._canned(op.response)
            lines.append(f"return {_q(value)}")
            tool.stub = not any(p.stored for p in params)
        self._finish(
            tool,
            params,
            f"{op.method.upper()} on {_a(resource.singular)}.",
            effect,
            returns,
            errors,
            lines,
        )

    def _read_one(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        lines = [f'return state.{resource.name}["current"]']
        record = self.writer.records[id(resource.record)]
        self._finish(tool, params, f"Get the {resource.name.replace('_', ' ')}.", "read", record, {}, lines)

    def _write_one(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        for p in params:
            if p.wire in resource.record.fields:
                p.stored = p.wire
                p.shape = resource.record.fields[p.wire].shape
                p.spec = {
                    **self._param_spec(p.shape, False, p.spec.get("description")),
                    **({"alias": p.spec["alias"]} if "alias" in p.spec else {}),
                }
                p.required = False
        lines = [f'updated = state.{resource.name}.edit("current")']
        lines += self._apply(params, "updated", skip=set())
        lines.append("return updated")
        record = self.writer.records[id(resource.record)]
        self._finish(tool, params, f"Change the {resource.name.replace('_', ' ')}.", "write", record, {}, lines)

    def _caller_key(self, resource: Resource, errors: dict[str, str], lines: list[str]) -> None:
        """Lines that set `record_key` to the key of the caller's own record, refusing a caller without one."""
        code, message = self._not_found(resource)
        errors[code] = message
        lines += [
            "caller = principal()",
            "if caller is None:",
            '    raise ToolError("unauthenticated")',
            f'record_key = caller["{resource.key}"]',
            f"if record_key not in state.{resource.name}:",
            f"    raise ToolError({_q(code)}, id=record_key)",
        ]

    def _read_me(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        errors: dict[str, str] = {}
        lines: list[str] = []
        self._caller_key(resource, errors, lines)
        lines.append(f"return state.{resource.name}[record_key]")
        record = self.writer.records[id(resource.record)]
        self._finish(tool, params, "Get the signed-in caller's own record.", "read", record, errors, lines)

    def _write_me(self, tool: BuiltTool, params: list[_Param]) -> None:
        resource = tool.plan.resource
        assert resource is not None
        errors: dict[str, str] = {}
        lines: list[str] = []
        for p in params:
            if p.stored and p.required:  # only the fields given change
                p.required = False
                p.spec = {**p.spec, "default": None}
                if not str(p.spec["type"]).endswith("| None"):
                    p.spec["type"] = f"{p.spec['type']} | None"
        self._ref_checks(resource, params, errors, lines, tool)
        self._caller_key(resource, errors, lines)
        lines.append(f"updated = state.{resource.name}.edit(record_key)")
        lines += self._apply(params, "updated", skip=set())
        lines.append("return updated")
        record = self.writer.records[id(resource.record)]
        description = "Change the signed-in caller's own record: only the fields given change."
        self._finish(tool, params, description, "write", record, errors, lines)

    def _call(self, tool: BuiltTool, params: list[_Param]) -> None:
        self.uses_requests = True
        op = tool.plan.operation
        returns, value = self._canned(op.response)
        arguments = "{" + ", ".join(f'"{p.wire}": {p.variable}' for p in params) + "}"
        lines = self._counter("requests")
        lines += [
            f'state.requests[new_key] = {{"request_id": new_key, "operation": "{tool.name}", "arguments": {arguments}}}',
            f"return {_q(value)}",
        ]
        self._finish(tool, params, f"{op.method.upper()} {op.path}.", "write", returns, {}, lines)

    def _stub(self, tool: BuiltTool, params: list[_Param]) -> None:
        op = tool.plan.operation
        returns, value = self._canned(op.response)
        tool.stub = True
        self._finish(tool, params, f"{op.method.upper()} {op.path}.", "read", returns, {}, [f"return {_q(value)}"])

    # ------------------------------------------------------------------ invariants

    def invariants(self) -> list[dict[str, str]]:
        out = []
        for resource in self.resources:
            for field_name, target in sorted({**resource.refs, **resource.links}.items()):
                if target.singleton:
                    continue
                spec: Field = resource.record.fields[field_name]
                optional = not spec.required or spec.shape.nullable
                test = (
                    f'all(r.get("{field_name}") is None or r["{field_name}"] in state.{target.name} for r in state.{resource.name}.values())'
                    if optional
                    else f'all(r["{field_name}"] in state.{target.name} for r in state.{resource.name}.values())'
                )
                out.append(
                    {
                        "name": f"{resource.name}_{snake(field_name)}_exists"[:60],
                        "check": test,
                        "message": f"A record of {resource.name} points at a {target.singular.replace('_', ' ')} that does not exist.",
                    }
                )
        return out


def _a(noun: str) -> str:
    words = noun.replace("_", " ")
    return f"{'an' if words[:1].lower() in 'aeiou' else 'a'} {words}"


def _free_name(base: str, taken: Any) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def _comparable(shape: Shape) -> bool:
    return shape.kind in ("str", "int", "float", "bool", "literal")
