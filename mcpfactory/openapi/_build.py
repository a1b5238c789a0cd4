"""Turn the resources of an OpenAPI document into spec data: types, collections with seeds, CRUD tools.

Choices the mapping makes (each reported in `notes` where it applies):

- ids are strings: an integer id becomes a string key (`vet-1`);
- a field named after another resource's id (`ownerId`, `pet_id`) becomes
  `ref[<collection>]`, with an invariant that it points at a record that
  exists, a check in every tool that sets it, and a refusal to delete a
  record still referenced;
- creates assign `<prefix><n>` keys; updates change only the fields given
  (`null` leaves a field as it is); deletes return the record removed;
- seed records are generated deterministically from the schemas (examples
  where the document gives them), four per collection.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Mapping
from typing import Any

from mcpfactory.openapi._document import Document, Operation, Resource, singular, snake

__all__ = ["SpecBuilder"]

_RESERVED = {"state", "rng", "now", "ToolError"}
_LOCALS = {"found", "matches", "number", "new_key", "created", "updated", "removed"}
_FIRST = ("Maria", "James", "Aiko", "Omar", "Lena")
_LAST = ("Escobito", "Franklin", "Tanaka", "Haddad", "Novak")
_NAMES = ("Luna", "Max", "Bella", "Milo", "Nala")
_CITIES = ("Madison", "Sun Prairie", "McFarland", "Monona", "Waunakee")
_TEXTS = ("Annual check-up.", "Limping on the left hind leg.", "Vaccination booster.", "Dental cleaning.", "Follow-up.")
SEEDS_PER_COLLECTION = 4


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _q(value: Any) -> str:
    """A literal for generated bodies, double-quoted like the rest of them."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _literal(values: list[Any]) -> str:
    return "Literal[" + ", ".join(repr(v) for v in values) + "]"


class SpecBuilder:
    """Builds the spec mapping of one document; `notes` lists what it changed or left out."""

    def __init__(self, doc: Document, name: str) -> None:
        self.doc = doc
        self.name = name
        self.types: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.records = {r.record: r for r in doc.resources.values()}
        self.keys: dict[str, str] = {}  # collection -> key field
        self.fks: dict[str, dict[str, str]] = {}  # collection -> {field: target collection}
        self.field_types: dict[str, dict[str, str]] = {}  # collection -> {field: type}
        self.required: dict[str, set[str]] = {}
        self.prefix: dict[str, str] = {}
        self.seeds: dict[str, list[dict[str, Any]]] = {}
        for resource in doc.resources.values():
            props = resource.schema.get("properties") or {}
            self.keys[resource.name] = next(
                n for n in ("id", f"{resource.singular}Id", f"{resource.singular}_id") if n in props
            )
        for resource in doc.resources.values():
            self.fks[resource.name] = self._foreign_keys(resource)
        used: set[str] = set()
        for collection in doc.resources:
            prefix = singular(collection)[:3]
            while prefix in used:
                prefix = singular(collection)[: len(prefix) + 1] + str(len(used))
            used.add(prefix)
            self.prefix[collection] = prefix + "-"

    # ------------------------------------------------------------------ types

    def _foreign_keys(self, resource: Resource) -> dict[str, str]:
        found = {}
        for prop in resource.schema.get("properties") or {}:
            if prop == self.keys[resource.name]:
                continue
            for other in self.doc.resources.values():
                if other.name != resource.name and prop in (f"{other.singular}Id", f"{other.singular}_id"):
                    found[str(prop)] = other.name
        return found

    def type_of(self, raw: Any, context: str) -> str:
        """The spec type of a schema; object schemas become named types."""
        schema = self.doc.resolve(raw)
        if not isinstance(schema, Mapping):
            return "any"
        nullable = bool(schema.get("nullable"))
        kind = schema.get("type")
        if isinstance(kind, list):
            nullable = nullable or "null" in kind
            kind = next((k for k in kind if k != "null"), None)
        if schema.get("enum"):
            values = [v for v in schema["enum"] if v is not None]
            base = (
                _literal(values) if all(isinstance(v, str | int) and not isinstance(v, bool) for v in values) else "any"
            )
        elif kind == "string":
            base = "str"
        elif kind == "integer":
            base = "int"
        elif kind == "number":
            base = "float"
        elif kind == "boolean":
            base = "bool"
        elif kind == "array":
            base = f"list[{self.type_of(schema.get('items') or {}, context + 'Item')}]"
        elif kind == "object" or "properties" in schema:
            if schema.get("properties"):
                base = self.object_type(self.doc.ref_name(raw) or context, schema)
            elif isinstance(schema.get("additionalProperties"), Mapping):
                base = f"dict[str, {self.type_of(schema['additionalProperties'], context + 'Value')}]"
            else:
                base = "dict[str, any]"
        else:
            base = "any"
        return f"{base} | None" if nullable and base != "any" else base

    def object_type(self, name: str, schema: Mapping[str, Any]) -> str:
        name = _camel(name) or "Object"
        if name in self.records or name in self.types:
            return name
        self.types[name] = {}  # placeholder: recursive references stop here
        fields = self._fields(name, schema)
        self.types[name] = {
            **({"description": schema["description"]} if schema.get("description") else {}),
            "fields": fields,
        }
        return name

    def _fields(self, owner: str, schema: Mapping[str, Any]) -> dict[str, Any]:
        required = set(schema.get("required") or ())
        fields: dict[str, Any] = {}
        for prop, raw in (schema.get("properties") or {}).items():
            prop = str(prop)
            if not prop.isidentifier() or keyword.iskeyword(prop) or prop.startswith("_"):
                self.notes.append(f"{owner}.{prop}: left out (not a valid field name)")
                continue
            spec: dict[str, Any] = {"type": self.type_of(raw, owner + _camel(prop))}
            description = (
                self.doc.resolve(raw).get("description") if isinstance(self.doc.resolve(raw), Mapping) else None
            )
            if description:
                spec["description"] = str(description).strip()
            if prop not in required:
                spec["optional"] = True
            fields[prop] = spec if len(spec) > 1 else spec["type"]
        return fields

    def collection(self, resource: Resource) -> dict[str, Any]:
        """A collection's spec: its record's fields (ids as strings, references as refs) and its seed."""
        fields = self._fields(resource.record, resource.schema)
        key = self.keys[resource.name]
        required = set(resource.schema.get("required") or ())
        required.add(key)
        if self._base(fields[key]) != "str":
            self.notes.append(f"{resource.name}.{key}: ids are strings here (was {self._base(fields[key])})")
        fields[key] = "str"
        for prop, target in self.fks[resource.name].items():
            ref = f"ref[{target}]"
            spec = fields.get(prop)
            optional = isinstance(spec, Mapping) and spec.get("optional")
            nullable = "| None" in self._base(spec)
            fields[prop] = {"type": ref + (" | None" if nullable else ""), **({"optional": True} if optional else {})}
            if len(fields[prop]) == 1:
                fields[prop] = fields[prop]["type"]
        self.field_types[resource.name] = {name: self._base(spec) for name, spec in fields.items()}
        self.required[resource.name] = {
            n for n in fields if not (isinstance(fields[n], Mapping) and fields[n].get("optional"))
        }
        out: dict[str, Any] = {"record": resource.record, "key": key, "fields": fields}
        return out

    @staticmethod
    def _base(spec: Any) -> str:
        return str(spec["type"] if isinstance(spec, Mapping) else spec)

    # ------------------------------------------------------------------ seeds

    def seed(self, resource: Resource) -> list[dict[str, Any]]:
        """Deterministic records: keys `<prefix>1..4`, references spread over their targets' records."""
        records = []
        key = self.keys[resource.name]
        for index in range(1, SEEDS_PER_COLLECTION + 1):
            record: dict[str, Any] = {}
            for prop, raw in (resource.schema.get("properties") or {}).items():
                prop = str(prop)
                if prop not in self.field_types[resource.name]:
                    continue
                if prop == key:
                    record[prop] = f"{self.prefix[resource.name]}{index}"
                elif prop in self.fks[resource.name]:
                    target = self.fks[resource.name][prop]
                    # The last record of a target is never referenced, so it can be deleted.
                    record[prop] = f"{self.prefix[target]}{(index - 1) % (SEEDS_PER_COLLECTION - 1) + 1}"
                else:
                    record[prop] = self.sample(raw, prop, index)
            records.append(record)
        self.seeds[resource.name] = records
        return records

    def sample(self, raw: Any, name: str, index: int) -> Any:
        """A plausible value for a field, varying with `index`."""
        schema = self.doc.resolve(raw)
        if not isinstance(schema, Mapping):
            return None
        if "example" in schema and index == 1:
            return schema["example"]
        if schema.get("enum"):
            values = [v for v in schema["enum"] if v is not None]
            return values[(index - 1) % len(values)]
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        lower = name.lower()
        if kind == "string":
            form = schema.get("format")
            if form == "date" or lower.endswith("date") or lower == "date":
                return f"2024-{(index % 9) + 1:02d}-{10 + index:02d}"
            if form == "date-time":
                return f"2024-{(index % 9) + 1:02d}-{10 + index:02d}T09:00:00Z"
            first, last = _FIRST[(index - 1) % 5], _LAST[(index - 1) % 5]
            if "email" in lower or form == "email":
                return f"{first.lower()}.{last.lower()}@example.com"
            if "phone" in lower:
                return f"+1 608 555 01{index:02d}"
            if lower in ("firstname", "first_name", "given_name"):
                return first
            if lower in ("lastname", "last_name", "family_name", "surname"):
                return last
            if lower == "name" or lower.endswith("name"):
                return _NAMES[(index - 1) % 5]
            if "city" in lower:
                return _CITIES[(index - 1) % 5]
            if "street" in lower or "address" in lower:
                return f"{100 + 10 * index} Main St"
            if "postal" in lower or "zip" in lower:
                return f"5370{index}"
            if any(word in lower for word in ("reason", "description", "note", "comment", "summary")):
                return _TEXTS[(index - 1) % 5]
            return f"{name} {index}"
        if kind == "integer":
            return int(schema.get("minimum", 0)) + index
        if kind == "number":
            return round(float(schema.get("minimum", 0)) + 1.5 * index + 2.25, 2)
        if kind == "boolean":
            return index % 2 == 1
        if kind == "array":
            item = self.sample(schema.get("items") or {}, singular(name), index)
            return [] if item is None else [item]
        if kind == "object" or "properties" in schema:
            return {
                str(p): self.sample(sub, str(p), index)
                for p, sub in (schema.get("properties") or {}).items()
                if str(p).isidentifier() and not keyword.iskeyword(str(p))
            }
        return None

    # ------------------------------------------------------------------ tools

    def param_name(self, name: str) -> tuple[str, str | None]:
        """A body variable for a wire name, and the alias when they differ."""
        variable = name if name.isidentifier() and not keyword.iskeyword(name) else snake(name)
        if variable in _RESERVED or variable in _LOCALS or keyword.iskeyword(variable) or not variable.isidentifier():
            variable = f"{variable}_value" if variable.isidentifier() else "value"
        return variable, (name if variable != name else None)

    def tools(self) -> dict[str, dict[str, Any]]:
        tools: dict[str, dict[str, Any]] = {}
        for resource in self.doc.resources.values():
            for operation in resource.operations:
                built = self._tool(resource, operation)
                if built is None:
                    continue
                tool_name = snake(str(operation.op.get("operationId") or f"{operation.kind}_{resource.name}"))
                while tool_name in tools:
                    tool_name += "_2"
                tools[tool_name] = built
        return tools

    def _describe(self, operation: Operation, fallback: str) -> str:
        text = str(operation.op.get("summary") or operation.op.get("description") or fallback).strip()
        return text.splitlines()[0] if text else fallback

    def _parent(self, operation: Operation, resource: Resource) -> tuple[str, str] | None:
        """For a nested collection: (parent collection, the child's field that points at it)."""
        if operation.parent_param is None:
            return None
        for parent in self.doc.resources.values():
            if parent.item_param == operation.parent_param:
                field = next((f for f, t in self.fks[resource.name].items() if t == parent.name), None)
                return (parent.name, field) if field else None
        return None

    def _tool(self, resource: Resource, operation: Operation) -> dict[str, Any] | None:
        handler = {
            "list": self._list,
            "get": self._get,
            "create": self._create,
            "update": self._update,
            "delete": self._delete,
        }[operation.kind]
        return handler(resource, operation)

    def _id_param(self, resource: Resource, operation: Operation) -> tuple[str, str | None]:
        return self.param_name(resource.item_param or self.keys[resource.name])

    def _not_found(self, collection: str) -> tuple[str, str]:
        code = "not_found" if collection is None else f"{singular(collection)}_not_found"
        return code, f"No {singular(collection).replace('_', ' ')} {{id}}."

    def _list(self, resource: Resource, operation: Operation) -> dict[str, Any] | None:
        coll = resource.name
        params: dict[str, Any] = {}
        errors: dict[str, str] = {}
        lines: list[str] = []
        conditions: list[str] = []
        parent = self._parent(operation, resource)
        if operation.parent_param is not None and parent is None:
            self.notes.append(f"{operation.label}: left out (cannot tell which field links it to its parent)")
            return None
        if parent is not None:
            parent_coll, field = parent
            variable, alias = self.param_name(operation.parent_param or field)
            params[variable] = {"type": f"ref[{parent_coll}]", **({"alias": alias} if alias else {})}
            code, message = self._not_found(parent_coll)
            errors[code] = message
            lines += [f"if {variable} not in state.{parent_coll}:", f"    raise ToolError({_q(code)}, id={variable})"]
            conditions.append(f'found["{field}"] != {variable}')
        limit = None
        for query in (p for p in self.doc.resolve(operation.op).get("parameters") or () if p):
            query = self.doc.resolve(query)
            if query.get("in") != "query":
                continue
            wire = str(query["name"])
            variable, alias = self.param_name(wire)
            field_types = self.field_types[coll]
            raw_type = self.type_of(query.get("schema") or {}, _camel(wire))
            extra = {"alias": alias} if alias else {}
            if query.get("description"):
                extra["description"] = str(query["description"]).strip()
            if wire in field_types:
                base = field_types[wire].replace(" | None", "")
                params[variable] = {"type": f"{base} | None", "default": None, **extra}
                conditions.append(f'{variable} is not None and found.get("{wire}") != {variable}')
            elif f"{wire}s" in field_types or (wire.endswith("y") and f"{wire[:-1]}ies" in field_types):
                plural = f"{wire}s" if f"{wire}s" in field_types else f"{wire[:-1]}ies"
                params[variable] = {"type": f"{raw_type} | None", "default": None, **extra}
                conditions.append(f'{variable} is not None and {variable} not in found.get("{plural}", [])')
            elif wire in ("limit", "max_results", "maxResults", "page_size", "pageSize") and raw_type == "int":
                params[variable] = {"type": "int | None", "default": None, **extra}
                limit = variable
            else:
                self.notes.append(f"{operation.label}: query parameter {wire!r} left out (no field to filter on)")
        lines.append("matches = []")
        lines.append(f"for found in state.{coll}.values():")
        for condition in conditions:
            lines += [f"    if {condition}:", "        continue"]
        lines.append("    matches.append(found)")
        if limit:
            lines += [f"if {limit} is not None:", f"    matches = matches[: max({limit}, 0)]"]
        lines.append("return matches")
        return self._spec(operation, f"List {coll}.", "read", params, f"list[{resource.record}]", errors, lines)

    def _get(self, resource: Resource, operation: Operation) -> dict[str, Any]:
        variable, alias = self._id_param(resource, operation)
        code, message = self._not_found(resource.name)
        lines = [
            f"found = state.{resource.name}.get({variable})",
            "if found is None:",
            f"    raise ToolError({_q(code)}, id={variable})",
            "return found",
        ]
        params = {variable: {"type": f"ref[{resource.name}]", **({"alias": alias} if alias else {})}}
        return self._spec(
            operation, f"Get a {resource.singular}.", "read", params, resource.record, {code: message}, lines
        )

    def _body_fields(self, resource: Resource, operation: Operation) -> tuple[dict[str, Any], set[str]]:
        _, schema = self.doc.body_schema(operation.op)
        props = schema.get("properties") or {} if isinstance(schema, Mapping) else {}
        key = self.keys[resource.name]
        kept: dict[str, Any] = {}
        for prop, sub in props.items():
            prop = str(prop)
            resolved = self.doc.resolve(sub)
            if prop == key or (isinstance(resolved, Mapping) and resolved.get("readOnly")):
                continue
            if prop not in self.field_types[resource.name]:
                self.notes.append(f"{operation.label}: body field {prop!r} left out (not a field of {resource.record})")
                continue
            kept[prop] = resolved
        return kept, set(schema.get("required") or ()) if isinstance(schema, Mapping) else set()

    def _ref_checks(self, coll: str, names: dict[str, str], errors: dict[str, str], *, optional: bool) -> list[str]:
        lines = []
        for field, variable in names.items():
            target = self.fks[coll].get(field)
            if target is None:
                continue
            code, message = self._not_found(target)
            errors[code] = message
            test = (
                f"{variable} is not None and {variable} not in state.{target}"
                if optional
                else f"{variable} not in state.{target}"
            )
            lines += [f"if {test}:", f"    raise ToolError({_q(code)}, id={variable})"]
        return lines

    def _create(self, resource: Resource, operation: Operation) -> dict[str, Any] | None:
        coll = resource.name
        key = self.keys[coll]
        body, required = self._body_fields(resource, operation)
        params: dict[str, Any] = {}
        variables: dict[str, str] = {}
        errors: dict[str, str] = {}
        lines: list[str] = []
        parent = self._parent(operation, resource)
        if operation.parent_param is not None and parent is None:
            self.notes.append(f"{operation.label}: left out (cannot tell which field links it to its parent)")
            return None
        if parent is not None:
            variable, alias = self.param_name(operation.parent_param or parent[1])
            params[variable] = {"type": f"ref[{parent[0]}]", **({"alias": alias} if alias else {})}
            variables[parent[1]] = variable
            body.pop(parent[1], None)
        optional_fields: list[tuple[str, str]] = []
        for prop, sub in body.items():
            variable, alias = self.param_name(prop)
            field_type = self.field_types[coll][prop]
            entry: dict[str, Any] = {"type": field_type, **({"alias": alias} if alias else {})}
            if sub.get("description"):
                entry["description"] = str(sub["description"]).strip()
            if prop not in required:
                if prop in self.required[coll]:
                    default = sub.get("default", _zero(field_type))
                    if default is _NO_ZERO:
                        entry.pop("default", None)
                    else:
                        entry["default"] = default
                else:
                    entry["type"] = field_type if field_type.endswith("| None") else f"{field_type} | None"
                    entry["default"] = None
                    optional_fields.append((prop, variable))
            params[variable] = entry
            variables[prop] = variable
        missing = [f for f in self.required[coll] if f != key and f not in variables]
        fills: dict[str, Any] = {}
        for field in missing:
            raw = (resource.schema.get("properties") or {}).get(field) or {}
            default = self.doc.resolve(raw).get("default", _zero(self.field_types[coll][field]))
            if default is _NO_ZERO:
                self.notes.append(f"{operation.label}: left out (no value for required field {field!r})")
                return None
            fills[field] = default
        lines += self._ref_checks(
            coll, {f: v for f, v in variables.items() if f not in dict(optional_fields)}, errors, optional=False
        )
        lines += self._ref_checks(coll, dict(optional_fields), errors, optional=True)
        prefix = self.prefix[coll]
        lines += [
            f"number = len(state.{coll}) + 1",
            f'while f"{prefix}{{number}}" in state.{coll}:',
            "    number += 1",
            f'new_key = f"{prefix}{{number}}"',
        ]
        items = [f'"{key}": new_key']
        optional_names = {p for p, _ in optional_fields}
        for prop in resource.schema.get("properties") or {}:
            prop = str(prop)
            if prop in variables and prop not in optional_names:
                items.append(f'"{prop}": {variables[prop]}')
            elif prop in fills:
                items.append(f'"{prop}": {_q(fills[prop])}')
        lines.append("created = {" + ", ".join(items) + "}")
        for prop, variable in optional_fields:
            lines += [f"if {variable} is not None:", f'    created["{prop}"] = {variable}']
        lines += [f"state.{coll}[new_key] = created", "return created"]
        return self._spec(operation, f"Create a {resource.singular}.", "write", params, resource.record, errors, lines)

    def _update(self, resource: Resource, operation: Operation) -> dict[str, Any] | None:
        coll = resource.name
        body, _ = self._body_fields(resource, operation)
        if not body:
            self.notes.append(f"{operation.label}: left out (no updatable field in its body)")
            return None
        variable, alias = self._id_param(resource, operation)
        code, message = self._not_found(coll)
        errors = {code: message}
        params: dict[str, Any] = {variable: {"type": f"ref[{coll}]", **({"alias": alias} if alias else {})}}
        names: dict[str, str] = {}
        for prop, sub in body.items():
            name, prop_alias = self.param_name(prop)
            field_type = self.field_types[coll][prop]
            entry: dict[str, Any] = {
                "type": field_type if field_type.endswith("| None") else f"{field_type} | None",
                "default": None,
                **({"alias": prop_alias} if prop_alias else {}),
            }
            if sub.get("description"):
                entry["description"] = str(sub["description"]).strip()
            params[name] = entry
            names[prop] = name
        lines = [f"if {variable} not in state.{coll}:", f"    raise ToolError({_q(code)}, id={variable})"]
        lines += self._ref_checks(coll, names, errors, optional=True)
        lines.append(f"updated = state.{coll}.edit({variable})")
        for prop, name in names.items():
            lines += [f"if {name} is not None:", f'    updated["{prop}"] = {name}']
        lines.append("return updated")
        description = f"Update a {resource.singular}: only the fields given change."
        return self._spec(operation, description, "write", params, resource.record, errors, lines)

    def _delete(self, resource: Resource, operation: Operation) -> dict[str, Any]:
        coll = resource.name
        variable, alias = self._id_param(resource, operation)
        code, message = self._not_found(coll)
        errors = {code: message}
        lines = [f"if {variable} not in state.{coll}:", f"    raise ToolError({_q(code)}, id={variable})"]
        for other, fields in self.fks.items():
            for field, target in fields.items():
                if target != coll:
                    continue
                in_use = f"{singular(coll)}_in_use"
                errors[in_use] = (
                    f"{singular(coll).replace('_', ' ').capitalize()} {{id}} is still referenced by {other}."
                )
                lines += [
                    f"for found in state.{other}.values():",
                    f'    if found.get("{field}") == {variable}:',
                    f"        raise ToolError({_q(in_use)}, id={variable})",
                ]
        lines += [f"removed = state.{coll}[{variable}]", f"del state.{coll}[{variable}]", "return removed"]
        params = {variable: {"type": f"ref[{coll}]", **({"alias": alias} if alias else {})}}
        return self._spec(operation, f"Delete a {resource.singular}.", "write", params, resource.record, errors, lines)

    def _spec(
        self,
        operation: Operation,
        fallback: str,
        effect: str,
        params: dict[str, Any],
        returns: str,
        errors: dict[str, str],
        lines: list[str],
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {"description": self._describe(operation, fallback), "effect": effect}
        if params:
            spec["params"] = params
        spec["returns"] = returns
        if errors:
            spec["errors"] = errors
        spec["body"] = "\n".join(lines) + "\n"
        return spec

    def invariants(self) -> list[dict[str, str]]:
        out = []
        for coll, fields in self.fks.items():
            for field, target in sorted(fields.items()):
                optional = field not in self.required.get(coll, set()) or "| None" in self.field_types[coll].get(
                    field, ""
                )
                test = (
                    f'all(r.get("{field}") is None or r["{field}"] in state.{target} for r in state.{coll}.values())'
                    if optional
                    else f'all(r["{field}"] in state.{target} for r in state.{coll}.values())'
                )
                out.append(
                    {
                        "name": f"{snake(coll)}_{snake(field)}_exists",
                        "check": test,
                        "message": f"A record of {coll} points at a {singular(target)} that does not exist.",
                    }
                )
        return out


_NO_ZERO: Any = object()


def _zero(type_text: str) -> Any:
    """The empty value of a type, for a required field no parameter sets; `_NO_ZERO` if it has none."""
    if type_text.endswith("| None"):
        return None
    if type_text == "str":
        return ""
    if type_text == "int":
        return 0
    if type_text == "float":
        return 0.0
    if type_text == "bool":
        return False
    if type_text.startswith("list["):
        return []
    if type_text.startswith("dict["):
        return {}
    if type_text.startswith("Literal["):
        match = re.match(r"Literal\[('(?:[^'\\]|\\.)*'|-?\d+)", type_text)
        if match:
            value = match.group(1)
            return value[1:-1] if value.startswith("'") else int(value)
    return _NO_ZERO
