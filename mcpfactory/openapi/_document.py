"""Read an OpenAPI 3 document and find its resources: collections with ids, and their CRUD operations.

A *resource* is a collection path whose last segment is a name (`/pets`, or
`/owners/{ownerId}/pets` nested under a parent) and, usually, an item path
below it (`/pets/{petId}`). Its record schema is what the item's GET returns,
else the items of the collection's GET, else what its POST takes. Operations
are classified by method and path shape:

| method | collection path | item path |
| --- | --- | --- |
| GET | list | get |
| POST | create | (action: skipped) |
| PUT, PATCH | - | update |
| DELETE | - | delete |

Anything else (an action path such as `/visits/{id}/cancel`) is reported as
skipped; the model can add it when it enriches the skeleton.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mcpfactory.synth._errors import OpenAPIError

__all__ = ["Document", "Operation", "Resource", "read_document", "snake"]

Kind = Literal["list", "get", "create", "update", "delete"]
_METHODS = ("get", "post", "put", "patch", "delete")


def snake(name: str) -> str:
    """`listPets` -> `list_pets`, `Pet Clinic` -> `pet_clinic`."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return text or "x"


def singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("ses", "xes", "zes", "ches", "shes")):
        return name[:-2]
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


@dataclass
class Operation:
    """One CRUD operation of a resource."""

    kind: Kind
    method: str
    path: str
    op: Mapping[str, Any]
    path_params: list[Mapping[str, Any]]
    parent_param: str | None = None  # for nested collections: the parent's id parameter

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass
class Resource:
    """A collection of records with ids, and what the document lets a client do with it."""

    name: str  # snake_case collection name, e.g. "pets"
    record: str  # record type name, e.g. "Pet"
    schema: Mapping[str, Any]  # the record's object schema, references resolved
    item_param: str | None = None
    operations: list[Operation] = field(default_factory=list)

    @property
    def singular(self) -> str:
        return singular(self.name)


@dataclass
class Document:
    """A dereferenced OpenAPI document and its resources."""

    path: Path
    data: Mapping[str, Any]
    resources: dict[str, Resource]
    skipped: list[str]

    @property
    def title(self) -> str:
        return str((self.data.get("info") or {}).get("title") or self.path.stem)

    @property
    def description(self) -> str:
        info = self.data.get("info") or {}
        return str(info.get("description") or info.get("title") or self.path.stem).strip()

    def resolve(self, schema: Any, depth: int = 0) -> Any:
        """Follow local `$ref`s and merge `allOf` object parts."""
        if depth > 32 or not isinstance(schema, Mapping):
            return schema
        if "$ref" in schema:
            return self.resolve(self.pointer(str(schema["$ref"])), depth + 1)
        if "allOf" in schema:
            merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
            for part in schema["allOf"]:
                part = self.resolve(part, depth + 1)
                merged["properties"].update(part.get("properties") or {})
                merged["required"].extend(r for r in part.get("required") or () if r not in merged["required"])
                for key in ("description", "nullable"):
                    if key in part:
                        merged[key] = part[key]
            merged.update({k: v for k, v in schema.items() if k != "allOf"})
            return merged
        return schema

    def pointer(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise OpenAPIError(f"only local references are supported, not {ref!r}", file=self.path, where=ref)
        node: Any = self.data
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                raise OpenAPIError("reference to nothing", file=self.path, where=ref)
            node = node[part]
        return node

    def ref_name(self, schema: Any) -> str | None:
        """The component name a schema refers to, if it is a `$ref` to `#/components/schemas/<Name>`."""
        if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            prefix = "#/components/schemas/"
            return ref[len(prefix) :] if ref.startswith(prefix) else None
        return None

    def body_schema(self, op: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any]]:
        """The JSON request body's schema as written (maybe a `$ref`) and resolved."""
        body = self.resolve(op.get("requestBody") or {})
        content = (body.get("content") or {}) if isinstance(body, Mapping) else {}
        media: Any = content.get("application/json") or next(iter(content.values()), {})
        raw = (media or {}).get("schema") or {}
        return raw, self.resolve(raw)

    def response_schema(self, op: Mapping[str, Any]) -> Any:
        """The schema of the first 2xx JSON response, as written."""
        for status, response in sorted((op.get("responses") or {}).items(), key=lambda kv: str(kv[0])):
            if not str(status).startswith("2"):
                continue
            response = self.resolve(response)
            content = (response.get("content") or {}) if isinstance(response, Mapping) else {}
            media: Any = content.get("application/json") or next(iter(content.values()), None)
            if media and media.get("schema"):
                return media["schema"]
        return None


def _load(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OpenAPIError(f"cannot read the document: {exc.strerror}", file=path) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else YAML(typ="safe", pure=True).load(text)
    except (json.JSONDecodeError, YAMLError) as exc:
        raise OpenAPIError(
            f"not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}", file=path
        ) from None
    if not isinstance(data, Mapping):
        raise OpenAPIError("the document is not a mapping", file=path)
    version = str(data.get("openapi") or "")
    if not version.startswith("3."):
        raise OpenAPIError(
            f"an OpenAPI 3 document is needed (openapi: {version or 'missing'})", file=path, where="openapi"
        )
    if not isinstance(data.get("paths"), Mapping) or not data["paths"]:
        raise OpenAPIError("the document has no paths", file=path, where="paths")
    return data


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def read_document(path: Path) -> Document:
    """Load and analyse a document; raise `OpenAPIError` if it is not a usable OpenAPI 3 document."""
    data = _load(path)
    doc = Document(path, data, {}, [])
    items: dict[str, tuple[str, str]] = {}  # collection path -> (item path, id parameter)
    for raw_path in data["paths"]:
        segments = str(raw_path).strip("/").split("/")
        if len(segments) >= 2 and _is_param(segments[-1]) and not _is_param(segments[-2]):
            items["/" + "/".join(segments[:-1])] = (str(raw_path), segments[-1][1:-1])
    for raw_path, node in data["paths"].items():
        raw_path = str(raw_path)
        node = doc.resolve(node)
        shared = [doc.resolve(p) for p in node.get("parameters") or ()]
        segments = raw_path.strip("/").split("/")
        for method in _METHODS:
            op = node.get(method)
            if not isinstance(op, Mapping):
                continue
            params = shared + [doc.resolve(p) for p in op.get("parameters") or ()]
            path_params = [p for p in params if p.get("in") == "path"]
            label = f"{method.upper()} {raw_path}"
            if _is_param(segments[-1]):
                if len(segments) < 2 or _is_param(segments[-2]):
                    doc.skipped.append(f"{label}: not a resource path")
                    continue
                collection_path = "/" + "/".join(segments[:-1])
                kind = {"get": "get", "put": "update", "patch": "update", "delete": "delete"}.get(method)
                parent = None
            else:
                collection_path = raw_path.rstrip("/") or "/"
                kind = {"get": "list", "post": "create"}.get(method)
                parent = segments[-2][1:-1] if len(segments) >= 2 and _is_param(segments[-2]) else None
            if kind is None:
                doc.skipped.append(f"{label}: no CRUD meaning for {method.upper()} here")
                continue
            name = snake(segments[-2] if _is_param(segments[-1]) else segments[-1])
            resource = doc.resources.get(name)
            if resource is None:
                resource = _new_resource(doc, name, collection_path, items)
                if resource is not None and parent is not None and snake(resource.record) not in (name, singular(name)):
                    # `/visits/{id}/cancel` returns a Visit: an action on the parent record, not a collection.
                    doc.skipped.append(f"{label}: an action on a record, not CRUD")
                    continue
                if resource is None:
                    doc.skipped.append(f"{label}: no record schema with an id for '{name}'")
                    continue
                doc.resources[name] = resource
            if kind in ("get", "update", "delete") and resource.item_param is None:
                resource.item_param = segments[-1][1:-1]
            resource.operations.append(Operation(kind, method, raw_path, op, path_params, parent))  # type: ignore[arg-type]
    return doc


def _new_resource(
    doc: Document, name: str, collection_path: str, items: Mapping[str, tuple[str, str]]
) -> Resource | None:
    """Find the record schema of a resource from its operations; `None` if none has an id."""
    candidates: list[Any] = []
    paths = doc.data["paths"]
    item = items.get(collection_path)
    if item is not None:
        node = doc.resolve(paths[item[0]])
        if isinstance(node.get("get"), Mapping):
            candidates.append(doc.response_schema(node["get"]))
    for raw_path, node in paths.items():
        segments = str(raw_path).strip("/").split("/")
        if snake(segments[-1]) != name:
            continue
        node = doc.resolve(node)
        if isinstance(node.get("get"), Mapping):
            listed = doc.response_schema(node["get"])
            resolved = doc.resolve(listed)
            if isinstance(resolved, Mapping) and resolved.get("type") == "array":
                candidates.append(resolved.get("items"))
        if isinstance(node.get("post"), Mapping):
            candidates.append(doc.response_schema(node["post"]))
    for candidate in candidates:
        record_name = doc.ref_name(candidate)
        schema = doc.resolve(candidate)
        if not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping):
            continue
        props = schema["properties"]
        id_field = next((n for n in ("id", f"{singular(name)}Id", f"{singular(name)}_id") if n in props), None)
        if id_field is None:
            continue
        record = record_name or "".join(part.capitalize() for part in singular(name).split("_"))
        return Resource(name=name, record=re.sub(r"[^A-Za-z0-9_]", "", record) or "Record", schema=schema)
    return None
