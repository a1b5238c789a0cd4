"""Read an OpenAPI 3.0/3.1 or Swagger 2.0 document and list its operations with their shapes.

Swagger 2.0 is read through the same door: a `body` parameter is the request
body, `formData` parameters are its fields, a parameter's own `type` is its
schema, a response's `schema` is its content, and `#/definitions/X` names a
component like `#/components/schemas/X`. Every operation keeps its JSON
pointer (`/paths/~1pets~1{petId}/get`), which the report and errors use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mcpfactory.openapi._schema import SchemaReader, camel, pointer_escape
from mcpfactory.openapi._shape import Field, Shape
from mcpfactory.spec._input import InputProblem, read_text
from mcpfactory.synth._errors import OpenAPIError

__all__ = ["METHODS", "Document", "Operation", "Param", "read_document", "snake"]

METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")
_SCHEMA_KEYS = (
    "type", "format", "items", "enum", "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "multipleOf", "description",
)  # fmt: skip


def snake(name: str) -> str:
    """`listPets` -> `list_pets`, `Pet Clinic` -> `pet_clinic`; never empty."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return text or "x"


@dataclass
class Param:
    """A path, query or header parameter of an operation."""

    name: str
    location: str
    shape: Shape
    required: bool
    description: str | None = None


@dataclass
class Operation:
    """One method on one path, with its parameters, request body and success response read into shapes."""

    method: str
    path: str
    pointer: str
    op: Mapping[str, Any]
    params: list[Param] = field(default_factory=list)
    body: Shape | None = None
    body_required: bool = False
    response: Shape | None = None
    status: str | None = None

    @property
    def operation_id(self) -> str | None:
        value = self.op.get("operationId")
        return str(value) if isinstance(value, str) and value.strip() else None

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.strip("/").split("/") if s]

    def summary(self) -> str | None:
        for key in ("summary", "description"):
            text = self.op.get(key)
            if isinstance(text, str) and text.strip():
                return text.strip().splitlines()[0].strip()
        return None


@dataclass
class Document:
    """A loaded document: its data, version, operations and the shapes reader that read them."""

    path: Path
    data: Mapping[str, Any]
    version: str
    reader: SchemaReader
    operations: list[Operation]

    @property
    def title(self) -> str:
        info = self.data.get("info")
        title = info.get("title") if isinstance(info, Mapping) else None
        return str(title).strip() if isinstance(title, str) and title.strip() else self.path.stem

    @property
    def description(self) -> str:
        info = self.data.get("info")
        text = info.get("description") if isinstance(info, Mapping) else None
        return str(text).strip() if isinstance(text, str) and text.strip() else self.title


MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # GitHub's REST API description, the largest we import, is 13 MB


def load(path: Path) -> Mapping[str, Any]:
    """Parse a JSON or YAML file; raise `OpenAPIError` if it cannot be read within bounds or is not a mapping."""
    try:
        text = read_text(path, MAX_DOCUMENT_BYTES, "document")  # a FIFO or a device is refused unopened
    except OSError as exc:
        raise OpenAPIError(f"cannot read the document: {exc.strerror}", file=path) from None
    except InputProblem as problem:
        hint = f" ({problem.hint})" if problem.hint else ""
        where = f" at line {problem.line} column {problem.col}" if (problem.line, problem.col) != (1, 1) else ""
        raise OpenAPIError(f"{problem.message}{hint}{where}", file=path) from None
    data: Any
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if path.suffix.lower() == ".json":
            raise OpenAPIError(
                f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", file=path
            ) from None
        try:
            data = YAML(typ="safe", pure=True).load(text)
        except YAMLError as yexc:
            raise OpenAPIError(f"not valid YAML: {yexc}", file=path) from None
        except RecursionError:
            raise OpenAPIError("not valid YAML: nested too deeply", file=path) from None
    except RecursionError:
        raise OpenAPIError("not valid JSON: nested too deeply", file=path) from None
    except ValueError as exc:  # an integer with more digits than Python converts
        raise OpenAPIError(f"not valid JSON: {exc}", file=path) from None
    if not isinstance(data, Mapping):
        raise OpenAPIError("the document is not a mapping", file=path, where="")
    return data


def read_document(path: Path) -> Document:
    """Load a document and read its operations; raise `OpenAPIError` naming the JSON pointer at fault."""
    data = load(path)
    if isinstance(data.get("openapi"), str) and data["openapi"].startswith("3."):
        version = data["openapi"]
    elif str(data.get("swagger")) == "2.0":
        version = "2.0"
    else:
        found = data.get("openapi", data.get("swagger"))
        raise OpenAPIError(
            f"an OpenAPI 3.x or Swagger 2.0 document is needed (found {found!r})" if found else "no 'openapi' field",
            file=path,
            where="/openapi",
        )
    paths = data.get("paths")
    if not isinstance(paths, Mapping) or not paths:
        raise OpenAPIError("the document has no paths", file=path, where="/paths")
    reader = SchemaReader(data)
    doc = Document(path, data, version, reader, [])
    for raw_path, node in paths.items():
        where = f"/paths/{pointer_escape(str(raw_path))}"
        node, _ = reader.deref(node, where)
        if not isinstance(node, Mapping):
            reader.problem(where, "a path item that is not an object; left out")
            continue
        shared: list[Any] = node["parameters"] if isinstance(node.get("parameters"), list) else []
        for method in METHODS:
            op = node.get(method)
            if not isinstance(op, Mapping):
                continue
            doc.operations.append(_operation(doc, str(raw_path), method, op, shared, f"{where}/{method}"))
    return doc


def _operation(
    doc: Document, path: str, method: str, op: Mapping[str, Any], shared: list[Any], where: str
) -> Operation:
    reader = doc.reader
    name = camel(str(op.get("operationId") or f"{method} {path}"))
    operation = Operation(method, path, where, op)
    by_key: dict[tuple[str, str], tuple[Mapping[str, Any], str]] = {}
    own: list[Any] = op["parameters"] if isinstance(op.get("parameters"), list) else []
    for base, items in ((f"{where.rsplit('/', 1)[0]}/parameters", shared), (f"{where}/parameters", own)):
        for index, raw in enumerate(items):
            param, at = reader.deref(raw, f"{base}/{index}")
            if isinstance(param, Mapping) and isinstance(param.get("name"), str) and isinstance(param.get("in"), str):
                by_key[(param["in"], param["name"])] = (param, at)
    form: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for (location, pname), (param, at) in by_key.items():
        if location == "body":
            schema = param.get("schema")
            operation.body = reader.shape(schema, f"{at}/schema", name + "Body") if schema is not None else None
            operation.body_required = bool(param.get("required"))
            continue
        schema_node = param.get("schema")
        if schema_node is None:
            schema_node = {k: v for k, v in param.items() if k in _SCHEMA_KEYS}
        if location == "formData":
            form["properties"][pname] = schema_node
            if param.get("required"):
                form["required"].append(pname)
            continue
        shape = reader.shape(schema_node, f"{at}/schema", name + camel(pname))
        description = param.get("description") if isinstance(param.get("description"), str) else None
        required = bool(param.get("required")) or location == "path"
        operation.params.append(Param(pname, location, shape, required, description.strip() if description else None))
    if form["properties"] and operation.body is None:
        operation.body = reader.shape(form, f"{where}/parameters", name + "Form")
        operation.body_required = bool(form["required"])
    request = op.get("requestBody")
    if request is not None:
        request, at = reader.deref(request, f"{where}/requestBody")
        if isinstance(request, Mapping):
            schema, media = _media_schema(request.get("content"))
            if schema is not None:
                operation.body = reader.shape(schema, f"{at}/content/{pointer_escape(media)}/schema", name + "Body")
                operation.body_required = bool(request.get("required"))
    operation.response, operation.status = _response(doc, op, where, name)
    return operation


def _media_schema(content: Any) -> tuple[Any, str]:
    if not isinstance(content, Mapping) or not content:
        return None, ""
    ranked = sorted(
        (str(k) for k in content),
        key=lambda media: 0 if "json" in media else 1 if "form" in media else 2 if media.startswith("text/") else 3,
    )
    for media in ranked:
        entry = content[media]
        if isinstance(entry, Mapping) and entry.get("schema") is not None:
            return entry["schema"], media
    return None, ""


def _response(doc: Document, op: Mapping[str, Any], where: str, name: str) -> tuple[Shape | None, str | None]:
    responses = op.get("responses")
    if not isinstance(responses, Mapping):
        return None, None
    entries = {str(k): v for k, v in responses.items()}
    codes = sorted(entries, key=lambda c: (not c.startswith("2"), c))
    for code in codes:
        if not (code.startswith("2") or (code == "default" and len(codes) == 1)):
            continue
        response, at = doc.reader.deref(entries[code], f"{where}/responses/{code}")
        if not isinstance(response, Mapping):
            continue
        schema, media = _media_schema(response.get("content"))
        if schema is None and response.get("schema") is not None:  # Swagger 2.0
            schema, media = response["schema"], "schema"
            return doc.reader.shape(schema, f"{at}/schema", name + "Response"), code
        if schema is not None:
            return doc.reader.shape(schema, f"{at}/content/{pointer_escape(media)}/schema", name + "Response"), code
        return None, code
    return None, None


def object_fields(shape: Shape | None) -> dict[str, Field]:
    """The fields of an object shape, or none."""
    return dict(shape.fields) if shape is not None and shape.kind == "object" else {}
