"""Import an OpenAPI 3 document as a spec skeleton that loads, compiles and passes the verifier.

`import_openapi(path)` reads the document (`_document.py`), maps its
resources onto types, collections with generated seeds and CRUD tools
(`_build.py`), compiles the result in a scratch folder and runs each tool
there to record its examples (a success and a refusal where it has one), so
the examples state what the generated bodies do. `write_environment` puts
the spec in a servers root and compiles it.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpfactory.compiler import compile_spec
from mcpfactory.openapi import _build, _document
from mcpfactory.spec import load_spec
from mcpfactory.synth._errors import OpenAPIError
from mcpfactory.synth._session import EnvSession, import_server, open_session
from mcpfactory.synth._yaml import dump_yaml

__all__ = ["Imported", "import_openapi", "write_environment"]


@dataclass
class Imported:
    """A spec made from an OpenAPI document, with what the mapping left out or changed."""

    name: str
    description: str
    spec: dict[str, Any]
    yaml: str
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def tools(self) -> list[str]:
        return list(self.spec["tools"])

    @property
    def collections(self) -> list[str]:
        return list(self.spec["collections"])


def _spec_data(doc: _document.Document, name: str) -> tuple[dict[str, Any], _build.SpecBuilder]:
    builder = _build.SpecBuilder(doc, name)
    collections = {r.name: builder.collection(r) for r in doc.resources.values()}
    for resource in doc.resources.values():
        collections[resource.name]["seed"] = builder.seed(resource)
    tools = builder.tools()
    if not tools:
        raise OpenAPIError("no operation maps onto a CRUD tool", file=doc.path, where="paths")
    description = doc.description.split("\n\n")[0].strip()
    data: dict[str, Any] = {
        "name": name,
        "description": description,
        "version": str((doc.data.get("info") or {}).get("version") or "0.1.0"),
        "policy": (
            f"You work with the {doc.title} API. Records are identified by string ids: look them up with the list "
            "and get tools rather than guessing, and change only what the user asks for."
        ),
    }
    if builder.types:
        data["types"] = builder.types
    data["collections"] = collections
    data["tools"] = tools
    invariants = builder.invariants()
    if invariants:
        data["invariants"] = invariants
    return data, builder


async def _record_examples(data: dict[str, Any], builder: _build.SpecBuilder, folder: Path) -> None:
    """Compile `data` in `folder`, call each tool on fresh sessions and keep what it answers as examples."""
    (folder / "spec.yaml").write_text(dump_yaml(data), encoding="utf-8")
    compile_spec(folder / "spec.yaml")
    module = import_server(folder)
    async with open_session(module) as session:
        for tool_name, tool in data["tools"].items():
            examples = []
            for arguments in _candidate_arguments(tool_name, tool, data, builder):
                example = await _example(session, tool_name, arguments)
                if example is not None and example not in examples:
                    examples.append(example)
            tool["examples"] = examples


async def _example(session: EnvSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
    await session.reset()
    result = await session.call(tool, arguments)
    if result.ok:
        return {"args": arguments, "returns": result.value}
    if result.code and result.code not in ("invalid_arguments", "unknown_tool", "env_fault"):
        return {"args": arguments, "error": result.code}
    return None


def _candidate_arguments(
    tool_name: str, tool: dict[str, Any], data: dict[str, Any], builder: _build.SpecBuilder
) -> list[dict[str, Any]]:
    """A call that should succeed, then calls that should be refused (an unknown id, a record in use)."""
    params: dict[str, Any] = tool.get("params") or {}
    seeds: dict[str, list[dict[str, Any]]] = {c: spec["seed"] for c, spec in data["collections"].items()}
    good: dict[str, Any] = {}
    refs: list[tuple[str, str]] = []
    for variable, spec in params.items():
        wire = spec.get("alias") or variable
        type_text = str(spec["type"])
        if type_text.startswith("ref["):
            target = type_text[4 : type_text.index("]")]
            keys = [record[data["collections"][target]["key"]] for record in seeds[target]]
            # A delete takes the last record (never referenced by the seed); anything else the first.
            good[wire] = keys[-1] if tool["effect"] == "write" and "del " in tool["body"] else keys[0]
            refs.append((wire, target))
        elif "default" not in spec:
            good[wire] = _sample_for(builder, data, tool, wire, _build.SEEDS_PER_COLLECTION + 1)
    candidates = [good]
    if tool["effect"] == "write" and "updated = " in tool["body"]:
        optional = [v.get("alias") or k for k, v in params.items() if "default" in v]
        if optional:
            candidates[0] = {
                **good,
                optional[0]: _sample_for(builder, data, tool, optional[0], _build.SEEDS_PER_COLLECTION + 2),
            }
    for wire, _ in refs[:1]:
        candidates.append({**good, wire: "missing-0"})
    if "del " in tool["body"] and refs and any(code.endswith("_in_use") for code in tool.get("errors") or {}):
        wire, target = refs[0]
        first = seeds[target][0][data["collections"][target]["key"]]
        candidates.append({**good, wire: first})
    return candidates


def _sample_for(builder: _build.SpecBuilder, data: dict[str, Any], tool: dict[str, Any], wire: str, index: int) -> Any:
    for resource in builder.doc.resources.values():
        props = resource.schema.get("properties") or {}
        if wire in props and resource.record in tool["returns"]:
            return builder.sample(props[wire], wire, index)
    for resource in builder.doc.resources.values():
        props = resource.schema.get("properties") or {}
        if wire in props:
            return builder.sample(props[wire], wire, index)
    return f"{wire} {index}"


async def import_openapi(path: Path, *, name: str | None = None) -> Imported:
    """Map an OpenAPI 3 document (YAML or JSON) onto a spec that passes the verifier.

    Raise `OpenAPIError` for a document that cannot be read or holds no
    resource with ids; `SpecError` if the mapping produced a spec that does not
    load (a bug of the importer, with the location).
    """
    doc = _document.read_document(path)
    if not doc.resources:
        raise OpenAPIError("no resource with an id found (a path /things with /things/{id})", file=path, where="paths")
    env_name = name or "_".join(_document.snake(doc.title).split("_")[:3])
    if not env_name[0].isalpha():
        env_name = f"api_{env_name}"
    data, builder = _spec_data(doc, env_name)
    with tempfile.TemporaryDirectory(prefix="mcpfactory-openapi-") as scratch:
        folder = Path(scratch) / env_name
        folder.mkdir()
        await _record_examples(data, builder, folder)
        text = dump_yaml(data)
        (folder / "spec.yaml").write_text(text, encoding="utf-8")
        load_spec(folder / "spec.yaml")
    return Imported(env_name, data["description"], data, text, skipped=list(doc.skipped), notes=builder.notes)


def write_environment(imported: Imported, root: Path, *, force: bool = False) -> Path:
    """Write `root/<name>/spec.yaml` and compile it; raise `FileExistsError` unless `force`."""
    target = root / imported.name
    if target.exists():
        if not force:
            raise FileExistsError(f"{target} exists (use --force to replace it)")
        shutil.rmtree(target)
    target.mkdir(parents=True)
    try:
        (target / "spec.yaml").write_text(imported.yaml, encoding="utf-8")
        compile_spec(target / "spec.yaml")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target
