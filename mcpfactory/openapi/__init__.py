"""Import an OpenAPI 3.0/3.1 or Swagger 2.0 document as a spec that loads, compiles and passes the verifier.

`import_openapi(path)` reads the document (`_document.py`, shapes from
`_schema.py`), decides what each operation becomes (`_mapping.py`), writes the
spec (`_tools.py`), compiles it in a scratch folder and calls each tool there
to record its examples (`_examples.py`). Every operation is accounted for in
the `ImportReport`: the tool it became, or why it did not become one.
`write_environment` puts the spec in a servers root and compiles it;
`import_folder` (`_batch.py`) imports many documents at once.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpfactory.compiler import compile_spec, generate
from mcpfactory.errors import SpecError
from mcpfactory.openapi import _document, _examples, _mapping, _tools
from mcpfactory.openapi._report import ImportReport, OperationReport
from mcpfactory.openapi._yaml import to_yaml as _to_yaml
from mcpfactory.spec import LoadedSpec, spec_sha256
from mcpfactory.synth._errors import OpenAPIError

__all__ = ["ImportReport", "Imported", "OperationReport", "import_openapi", "write_environment"]

log = logging.getLogger("mcpfactory.openapi")
_REPAIR_ROUNDS = 4


@dataclass
class Imported:
    """A spec made from an OpenAPI document, with the report of what became of each operation."""

    name: str
    description: str
    spec: dict[str, Any]
    yaml: str
    report: ImportReport
    notes: list[str] = field(default_factory=list)
    # The spec as compiled before its examples were recorded; examples do not change the generated server,
    # so writing the environment regenerates from it instead of parsing the (large) YAML again.
    compiled: LoadedSpec | None = field(default=None, repr=False, compare=False)

    @property
    def tools(self) -> list[str]:
        return list(self.spec["tools"])

    @property
    def collections(self) -> list[str]:
        return list(self.spec["collections"])


def _env_name(title: str) -> str:
    words = [w for w in _document.snake(title).split("_") if w][:3]
    name = "_".join(words) or "api"
    return name if name[0].isalpha() else f"api_{name}"


def _spec_data(
    doc: _document.Document, name: str, writer: _tools.SpecWriter, tools: list[_tools.BuiltTool]
) -> dict[str, Any]:
    collections = writer.collections()
    description = doc.description.split("\n\n")[0].strip() or doc.title
    data: dict[str, Any] = {
        "name": name,
        "description": description,
        "version": str((doc.data.get("info") or {}).get("version") or "0.1.0")
        if isinstance(doc.data.get("info"), dict)
        else "0.1.0",
        "policy": (
            f"You work with the {doc.title} API. Records are identified by their keys: look them up with the "
            "list and get tools rather than guessing, and change only what the user asks for."
        ),
    }
    auth = writer.auth(tools)  # before the types: a principal of its own is one of them
    if writer.writer.types:
        data["types"] = writer.writer.types
    data["collections"] = collections
    if auth is not None:
        data["auth"] = auth
    data["tools"] = {tool.name: tool.spec for tool in tools}
    invariants = writer.invariants()
    if invariants:
        data["invariants"] = invariants
    return data


def _problem_tools(error: SpecError, tools: dict[str, Any]) -> dict[str, str]:
    """The tools a load error is about, with the first message for each."""
    found: dict[str, str] = {}
    for issue in error.issues:
        parts = issue.path.split(".")
        if len(parts) >= 2 and parts[0] == "tools" and parts[1] in tools:
            found.setdefault(parts[1], issue.message)
    return found


async def import_openapi(path: Path, *, name: str | None = None) -> Imported:
    """Map a document onto a spec that passes the verifier, and report what became of each operation.

    Raise `OpenAPIError` (with the document's JSON pointer) for a document
    that cannot be read or from which no tool can be made; `SpecError` if the
    mapping produced a spec whose collections do not load (a bug of the
    importer, reported with the document it came from).
    """
    doc = _document.read_document(path)
    resources, plans = _mapping.plan_document(doc)
    writer = _tools.SpecWriter(doc, resources, plans)
    built: dict[int, _tools.BuiltTool] = {}
    failures: dict[int, str] = {}
    for plan in plans:
        if plan.kind is None:
            continue
        try:
            built[id(plan)] = writer.tool(plan)
        except (ValueError, KeyError, TypeError, AssertionError) as exc:  # a mapping bug: report it, keep going
            log.warning("%s %s: %s", path, plan.operation.pointer, exc, exc_info=True)
            failures[id(plan)] = f"could not be mapped ({type(exc).__name__}: {exc})"
    env_name = name or _env_name(doc.title)
    tools = list(built.values())
    if not tools:
        raise OpenAPIError("no operation can be made into a tool", file=path, where="/paths")
    data = _spec_data(doc, env_name, writer, tools)
    with tempfile.TemporaryDirectory(prefix="mcpfactory-openapi-") as scratch:
        folder = Path(scratch) / env_name
        folder.mkdir()
        spec_path = folder / "spec.yaml"
        loaded: LoadedSpec | None = None
        for _ in range(_REPAIR_ROUNDS):
            spec_path.write_text(_to_yaml(data), encoding="utf-8")
            try:
                loaded = compile_spec(spec_path).spec
                break
            except SpecError as exc:
                bad = _problem_tools(exc, data["tools"])
                if not bad:
                    first = exc.issues[0]
                    raise OpenAPIError(
                        f"the spec made from it does not load ({first.path}: {first.message})", file=path
                    ) from None
                for tool in tools:
                    if tool.name in bad:
                        failures[id(tool.plan)] = f"the tool made from it does not load: {bad[tool.name]}"
                tools = [t for t in tools if t.name not in bad]
                if not tools:
                    raise OpenAPIError("no operation can be made into a tool that loads", file=path) from None
                data = _spec_data(doc, env_name, writer, tools)
        if loaded is None:
            raise OpenAPIError("the spec made from it does not load", file=path)
        faulty = await _examples.record_examples(folder, data, tools, loaded)
    if faulty:
        for tool in tools:
            if tool.name in faulty:
                failures[id(tool.plan)] = faulty[tool.name]
        tools = [t for t in tools if t.name not in faulty]
        if not tools:
            raise OpenAPIError("every tool made from it faulted on its sample call", file=path)
        data = {**data, "tools": {t.name: data["tools"][t.name] for t in tools}}
        loaded = None  # tools were dropped: the environment must be compiled from its text again
    text = _to_yaml(data)
    report = _report(doc, plans, {id(t.plan): t for t in tools}, failures, writer)
    notes = [f"{where}: {message}" for where, message in doc.reader.problems + writer.notes]
    return Imported(env_name, data["description"], data, text, report, notes, loaded)


def _report(
    doc: _document.Document,
    plans: list[_mapping.Plan],
    tools: dict[int, _tools.BuiltTool],
    failures: dict[int, str],
    writer: _tools.SpecWriter,
) -> ImportReport:
    report = ImportReport(str(doc.path))
    for plan in plans:
        op = plan.operation
        tool = tools.get(id(plan))
        if tool is None:
            why = failures.get(id(plan)) or plan.reason or "not mapped"
            report.operations.append(
                OperationReport(op.method.upper(), op.path, op.operation_id, None, why, None, op.pointer)
            )
            continue
        kind = "stub" if tool.stub else plan.kind
        reason: str | None = None
        if kind == "stub":
            reason = "a stub: returns a fixed sample of its documented response and changes nothing it describes"
            if plan.kind == "action":
                reason = "a stub on a record: checks the record exists, then returns a fixed sample of its response"
        elif plan.kind == "call":
            reason = "records the request in the requests collection and returns a fixed sample of its response"
        report.operations.append(
            OperationReport(op.method.upper(), op.path, op.operation_id, tool.name, reason, kind, op.pointer)
        )
    report.notes = [{"where": where, "message": message} for where, message in doc.reader.problems + writer.notes]
    return report


def write_environment(imported: Imported, root: Path, *, force: bool = False) -> Path:
    """Write `root/<name>/spec.yaml` with its import report beside it and compile it; raise `FileExistsError` unless `force`."""
    target = root / imported.name
    if target.exists():
        if not force:
            raise FileExistsError(f"{target} exists (use --force to replace it)")
        shutil.rmtree(target)
    target.mkdir(parents=True)
    try:
        spec_path = target / "spec.yaml"
        spec_path.write_text(imported.yaml, encoding="utf-8")
        if imported.compiled is None:
            compile_spec(spec_path)
        else:
            loaded = dataclasses.replace(imported.compiled, path=spec_path, sha256=spec_sha256(spec_path))
            for file_name, source in generate(loaded).items():
                (target / file_name).write_text(source, encoding="utf-8")
        # The verifier's lifecycle check reads which tool each operation became from here, and the document.
        report = dataclasses.replace(imported.report, document=str(Path(imported.report.document).resolve()))
        report.write(target / "import-report.json")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target
