"""Load a spec file: parse YAML with positions, validate, resolve types, check bodies and seeds.

Every mistake becomes a `SpecIssue` with file, line, column and field path; all
issues found are reported together (a model repairing a draft sees them all).
"""

from __future__ import annotations

import ast
import difflib
import functools
import keyword
import operator
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired

import pydantic
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from typing_extensions import TypedDict

from mcpfactory.errors import SpecError, SpecIssue
from mcpfactory.runtime import AUTH_ERRORS, PAGE_ERRORS, JsonArray, Number, Paging, key_to_wire
from mcpfactory.runtime._catalog import spec_files_sha256
from mcpfactory.spec import _restrict
from mcpfactory.spec._context import ResolvedAuth, body_names, check_context
from mcpfactory.spec._input import MAX_DATA_BYTES, MAX_SPEC_BYTES, InputProblem, load_json, load_yaml, read_text
from mcpfactory.spec._keys import KeyInfo, resolve_keys
from mcpfactory.spec._model import Constraints, EnvSpec, FieldSpec, ParamSpec, ToolSpec
from mcpfactory.spec._names import NameRules
from mcpfactory.spec._pages import resolve_page
from mcpfactory.spec._source import Loc, Source, display_path, plain, value_issues
from mcpfactory.spec._text import printable, visible
from mcpfactory.spec._types import RefTargets, TypeExpr, TypeSyntaxError, literal_from_enum, parse_type

__all__ = [
    "LoadedSpec",
    "ResolvedField",
    "ResolvedParam",
    "ResolvedUnion",
    "constrained_type",
    "load_spec",
    "spec_sha256",
]

TOOL_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,63}$")
RESULT_NAMES = frozenset({"result"})  # what an `error_when` expression reads: the value the body returned


def _calls_names(source: str, names: set[str] | dict[str, Any]) -> set[str]:
    """The names among `names` that a body mentions (it checks as a body, so it parses)."""
    try:
        tree = ast.parse("def _body():\n" + textwrap.indent(source, "    "))
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id in names}


@dataclass(frozen=True, slots=True)
class ResolvedField:
    name: str
    type: TypeExpr
    description: str | None = None
    optional: bool = False
    constraints: dict[str, Any] = field(default_factory=dict)  # docs/spec.md "Constraints", on the non-null part


@dataclass(frozen=True, slots=True)
class ResolvedUnion:
    """A named union of object types, told apart by `discriminator` when it is given."""

    name: str
    members: tuple[TypeExpr, ...]
    discriminator: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ResolvedParam:
    name: str
    type: TypeExpr
    description: str | None = None
    default: Any = None
    has_default: bool = False
    alias: str | None = None
    constraints: dict[str, Any] = field(default_factory=dict)

    @property
    def wire_name(self) -> str:
        """The argument's name in the tool's input schema."""
        return self.alias or self.name


@dataclass
class LoadedSpec:
    """A spec that loaded cleanly, with everything the compiler and verifier need."""

    spec: EnvSpec
    path: Path
    sha256: str
    types: dict[str, list[ResolvedField]]  # named types and record types, in dependency order
    records: dict[str, str]  # collection -> record type name
    params: dict[str, list[ResolvedParam]]
    returns: dict[str, TypeExpr]
    seed: dict[str, dict[str, Any]]
    seed_files: dict[str, str]  # collection -> path relative to the spec, for file seeds
    python_types: dict[str, Any] = field(repr=False)
    helpers: dict[str, tuple[list[ResolvedParam], TypeExpr]] = field(default_factory=dict)
    tool_errors: dict[str, dict[str, str]] = field(default_factory=dict)  # own errors and their helpers
    scenario: list[ResolvedParam] | None = None  # the scenario's parameters, when the spec declares one
    views: dict[str, TypeExpr] = field(default_factory=dict)  # view name -> its type
    unions: dict[str, ResolvedUnion] = field(default_factory=dict)  # named unions, also listed (empty) in types
    keys: dict[str, KeyInfo] = field(default_factory=dict)  # collection -> its key (docs/spec.md "Keys")
    pages: dict[str, Paging] = field(default_factory=dict)  # paged tools (docs/spec.md "Pages")
    auth: ResolvedAuth | None = None  # who calls (docs/spec.md "Auth")

    @property
    def name(self) -> str:
        return self.spec.name

    def validator(self, type_expr: TypeExpr) -> pydantic.TypeAdapter[Any]:
        return pydantic.TypeAdapter(_python_type(type_expr, self.python_types))

    def result_validator(self, tool: str) -> pydantic.TypeAdapter[Any]:
        """What a call of `tool` returns: its body's type, or a page of it for a paged tool."""
        returns = _python_type(self.returns[tool], self.python_types)
        page = self.pages.get(tool)
        return pydantic.TypeAdapter(returns if page is None else page.result_type(returns))


def spec_sha256(path: Path, data_files: Iterable[Path] = ()) -> str:
    """Hash a spec and the seed files it names, so a change to either is a new version."""
    return spec_files_sha256(path, data_files)


def _suggest(word: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


# --------------------------------------------------------------------------- checking


class _Checker:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.issues: list[SpecIssue] = []

    def add(self, loc: Loc, message: str, hint: str | None = None, *, at_key: bool = False) -> None:
        line, col = self.source.position(loc, at_key=at_key)
        self._append(loc, line, col, message, hint)

    def add_at(self, loc: Loc, line: int, col: int, message: str, hint: str | None = None) -> None:
        self._append(loc, line, col, message, hint)

    def _append(self, loc: Loc, line: int, col: int, message: str, hint: str | None, file: str | None = None) -> None:
        # User text quoted in a message (a key, a value) may hold control characters: keep the line one line.
        path = visible(".".join(str(part) for part in loc))
        issue = SpecIssue(file or self.source.display, line, col, path, visible(message), hint and visible(hint))
        self.issues.append(issue)

    def add_in(self, file: Path, loc: Loc, problem: InputProblem) -> None:
        """Report a problem located in another file than the spec (a seed file)."""
        self._append(loc, problem.line, problem.col, problem.message, problem.hint, display_path(file))

    def type_issue(self, loc: Loc, exc: TypeSyntaxError) -> None:
        line, col = self.source.position(loc)
        quoted = (
            self.source.lines[line - 1][col - 1 : col] in ("'", '"') if line - 1 < len(self.source.lines) else False
        )
        self._append(loc, line, col + exc.col + (1 if quoted else 0), exc.message, exc.hint)


def _pydantic_issues(checker: _Checker, error: pydantic.ValidationError, data: Any) -> None:
    for item in error.errors(include_url=False):
        loc = _data_loc(item["loc"], data)
        kind = item["type"]
        if kind == "extra_forbidden":
            parent = _resolve(data, loc[:-1])
            known = _known_fields(loc[:-1], parent)
            hint = _suggest(str(loc[-1]), known)
            if " " in str(loc[-1]):
                hint = "quote a value that contains ': ' (YAML reads it as a new key), e.g. description: 'a: b'"
            checker.add(loc, f"unknown field '{loc[-1]}'", hint, at_key=True)
        elif kind == "missing":
            checker.add(loc[:-1], f"missing required field '{loc[-1]}'")
        else:
            checker.add(loc, item["msg"])


def _data_loc(raw: tuple[Any, ...], data: Any) -> Loc:
    """Drop pydantic's union-branch labels from a location, keeping the path through the data."""
    loc: list[str | int] = []
    node = data
    for part in raw:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            loc.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part not in _UNION_LABELS:
            loc.append(part)  # a missing or unknown key
            node = None
    return tuple(loc)


_UNION_LABELS = {"str", "FieldSpec", "ParamSpec", "list[dict[str,any]]", "dict[str,dict[str,any]]", "function-after"}


def _resolve(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = data[part]
    return data


def _known_fields(loc: Loc, parent: Any) -> list[str]:
    from mcpfactory.spec import _model

    shapes: list[tuple[tuple[str, ...], type[pydantic.BaseModel]]] = [
        ((), _model.EnvSpec),
        (("types", "*"), _model.TypeSpec),
        (("collections", "*"), _model.CollectionSpec),
        (("tools", "*"), _model.ToolSpec),
        (("tools", "*", "examples", "#"), _model.ExampleSpec),
        (("invariants", "#"), _model.InvariantSpec),
        (("tools", "*", "params", "*"), _model.ParamSpec),
        (("collections", "*", "fields", "*"), _model.FieldSpec),
        (("types", "*", "fields", "*"), _model.FieldSpec),
    ]
    for pattern, model in shapes:
        if len(pattern) == len(loc) and all(
            (p == "*" and isinstance(x, str)) or (p == "#" and isinstance(x, int)) or p == x
            for p, x in zip(pattern, loc, strict=True)
        ):
            return list(model.model_fields)
    return list(parent) if isinstance(parent, dict) else []


# --------------------------------------------------------------------------- constraints

_CONSTRAINT_FAMILY = {
    "minimum": "number",
    "maximum": "number",
    "exclusive_minimum": "number",
    "exclusive_maximum": "number",
    "multiple_of": "number",
    "min_length": "string",
    "max_length": "string",
    "pattern": "string",
    "format": "string",
    "min_items": "list",
    "max_items": "list",
}
_BOUNDS = (
    ("minimum", "maximum"),
    ("exclusive_minimum", "exclusive_maximum"),
    ("min_length", "max_length"),
    ("min_items", "max_items"),
)


def _pattern_problem(pattern: str) -> str | None:
    """Why a pattern cannot be enforced alike by the server (pydantic) and by JSON Schema (Python's `re`)."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"is not a regular expression: {exc}"
    try:
        pydantic.TypeAdapter(Annotated[str, pydantic.Field(pattern=pattern)])
    except Exception:  # pydantic-core reports its regex engine's refusals under several exception types
        return "is not supported by the server's regex engine (no look-around or back-references)"
    return None


# --------------------------------------------------------------------------- dynamic python types


def _python_type(expr: TypeExpr, named: dict[str, Any]) -> Any:
    if expr.kind == "scalar":
        return {"str": str, "int": int, "float": Number, "bool": bool, "any": Any, "None": type(None)}[expr.name]
    if expr.kind == "list":
        return list[_python_type(expr.args[0], named)]  # type: ignore[misc]
    if expr.kind == "dict":
        return dict[str, _python_type(expr.args[0], named)]  # type: ignore[misc]
    if expr.kind == "optional":
        return _python_type(expr.args[0], named) | None
    if expr.kind == "literal":
        return Literal[expr.values]
    if expr.kind == "ref":
        return _python_type(expr.args[0], named) if expr.args else str
    if expr.kind == "tuple":
        parts = tuple.__class_getitem__(tuple(_python_type(arg, named) for arg in expr.args))
        return Annotated[parts, JsonArray]
    if expr.kind == "union":
        return functools.reduce(operator.or_, (_python_type(arg, named) for arg in expr.args))
    return named[expr.name]


_PYDANTIC_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusive_minimum": "gt",
    "exclusive_maximum": "lt",
    "multiple_of": "multiple_of",
    "min_length": "min_length",
    "max_length": "max_length",
    "pattern": "pattern",
    "min_items": "min_length",
    "max_items": "max_length",
}


def constraint_options(constraints: dict[str, Any]) -> dict[str, Any]:
    """The `pydantic.Field` keyword arguments for a spec's constraints (a format goes to the schema only)."""
    options: dict[str, Any] = {_PYDANTIC_CONSTRAINTS[k]: v for k, v in constraints.items() if k != "format"}
    if "format" in constraints:
        options["json_schema_extra"] = {"format": constraints["format"]}
    return options


_JSON_SCHEMA_NAMES = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusive_minimum": "exclusiveMinimum",
    "exclusive_maximum": "exclusiveMaximum",
    "multiple_of": "multipleOf",
}


def number_schema(constraints: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema of a constrained `float`, whose runtime type (`Number`) fixes its schema as plain number."""
    if not constraints:
        return None
    return {"type": "number", **{_JSON_SCHEMA_NAMES[k]: v for k, v in constraints.items()}}


def constrained_type(expr: TypeExpr, constraints: dict[str, Any], named: dict[str, Any]) -> Any:
    """The Python type of `expr` with its constraints on the non-null part."""
    if not constraints:
        return _python_type(expr, named)
    inner = expr.args[0] if expr.kind == "optional" else expr
    field = pydantic.Field(**constraint_options(constraints))
    schema = number_schema(constraints) if inner == TypeExpr("scalar", "float") else None
    extra = (field, pydantic.WithJsonSchema(schema)) if schema is not None else (field,)
    annotated: Any = Annotated.__class_getitem__((_python_type(inner, named), *extra))  # type: ignore[attr-defined]
    return annotated | None if expr.kind == "optional" else annotated


def _union_type(union: ResolvedUnion, named: dict[str, Any]) -> Any:
    members = functools.reduce(operator.or_, (named[m.name] for m in union.members))
    if union.discriminator is None:
        return members
    return Annotated[members, pydantic.Field(discriminator=union.discriminator)]


def _typed_dict(name: str, fields: list[ResolvedField], named: dict[str, Any]) -> Any:
    annotations: dict[str, Any] = {}
    for f in fields:
        annotation = constrained_type(f.type, f.constraints, named)
        annotations[f.name] = NotRequired[annotation] if f.optional else annotation
    typed = TypedDict(name, annotations)  # type: ignore[misc]
    typed.__pydantic_config__ = pydantic.ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return typed


# --------------------------------------------------------------------------- the loader


def _file_error(path: Path, line: int, col: int, message: str, hint: str | None = None) -> SpecError:
    return SpecError([SpecIssue(display_path(path), line, col, "", visible(message), hint and visible(hint))])


def _yaml_error(path: Path, mark: Any, message: str, hint: str | None = None) -> SpecError:
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return _file_error(path, line, col, message, hint)


def load_spec(path: str | Path) -> LoadedSpec:
    """Load and check a spec file; raise `SpecError` listing every mistake.

    The file and every seed file it names are read within bounds (size,
    encoding, nesting, alias expansion, number length: see `_input`), so a
    hostile file fails in seconds with a located error, never a traceback.
    """
    path = Path(path)
    try:
        text = read_text(path, MAX_SPEC_BYTES, "spec")
    except InputProblem as exc:
        raise _file_error(path, exc.line, exc.col, exc.message, exc.hint) from None
    except OSError as exc:
        raise _file_error(path, 1, 1, f"cannot read spec: {exc.strerror or 'no such file'}") from None
    try:
        root = load_yaml(text)
    except InputProblem as exc:
        raise _file_error(path, exc.line, exc.col, exc.message, exc.hint) from None
    except DuplicateKeyError as exc:
        key = (exc.problem or "").split('"')[1] if '"' in (exc.problem or "") else "?"
        hint = "each tool, collection, type and field name may appear once"
        raise _yaml_error(path, exc.problem_mark, f"duplicate key '{key}'", hint) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise _yaml_error(path, mark, f"invalid YAML: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise SpecError([SpecIssue(display_path(path), 1, 1, "", f"invalid YAML: {exc}")]) from None
    source = Source(path, text, root)
    checker = _Checker(source)
    data = plain(root)
    if not isinstance(data, dict):
        checker.add((), "a spec is a YAML mapping with name, description, collections and tools")
        raise SpecError(checker.issues)
    for loc, problem, suggestion, at_key in value_issues(data):
        checker.add(loc, problem, suggestion, at_key=at_key)
    if checker.issues:
        raise SpecError(checker.issues)
    try:
        spec = EnvSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        _pydantic_issues(checker, exc, data)
        raise SpecError(checker.issues) from None
    loaded = _Analysis(spec, path, checker).run()
    if checker.issues:
        raise SpecError(checker.issues)
    assert loaded is not None
    return loaded


class _Analysis:
    """The semantic checks that follow schema validation."""

    def __init__(self, spec: EnvSpec, path: Path, checker: _Checker) -> None:
        self.spec = spec
        self.path = path
        self.c = checker
        self.types: dict[str, list[ResolvedField]] = {}
        self.records: dict[str, str] = {c: s.record for c, s in spec.collections.items()}
        self.tool_errors: dict[str, dict[str, str]] = {}
        self.unions: dict[str, ResolvedUnion] = {}
        self.keys: dict[str, KeyInfo] = {}
        self.pages: dict[str, Paging] = {}
        self.auth: ResolvedAuth | None = None
        self.body_names = body_names(spec)  # what auth and time add to bodies (principal(), advance(), ...)
        self.names = NameRules(
            types=[*spec.types, *self.records.values()],
            tools=spec.tools,
            helpers=spec.helpers,
            invariants=[inv.name for inv in spec.invariants],
            views=spec.views,
        )

    def check_name(self, loc: Loc, kind: str, name: str) -> bool:
        """Report why `name` cannot name a `kind` at its key; True if it can."""
        problem = self.names.problem(kind, name)
        if problem is not None:
            self.c.add(loc, problem[0], problem[1], at_key=kind != "record")
        return problem is None

    def run(self) -> LoadedSpec | None:
        spec = self.spec
        if keyword.iskeyword(spec.name):
            self.c.add(("name",), f"environment name '{spec.name}' is a Python keyword", "it names a package")
        try:
            datetime.fromisoformat(spec.clock)
        except ValueError:
            self.c.add(("clock",), f"clock {spec.clock!r} is not an ISO datetime", "e.g. '2024-05-15T10:00:00'")
        known = self._declare_names()
        self.keys = resolve_keys(spec, known, self.c.add)
        collections = RefTargets(spec.collections, {c: k.type for c, k in self.keys.items()})
        raw_fields: dict[str, tuple[Loc, dict[str, Any]]] = {}
        for name, type_spec in spec.types.items():
            if type_spec.union is None:
                raw_fields[name] = (("types", name, "fields"), type_spec.fields)
            elif type_spec.fields:
                self.c.add(("types", name, "union"), "a type has either fields or a union, not both")
        for coll, coll_spec in spec.collections.items():
            raw_fields[coll_spec.record] = (("collections", coll, "fields"), coll_spec.fields)
        for name, (loc, fields) in raw_fields.items():
            self.types[name] = [self._field((*loc, fname), fname, f, known, collections) for fname, f in fields.items()]
        self.unions = self._resolve_unions(known, collections)
        order = self._dependency_order(raw_fields)
        if self.c.issues:
            return None
        python_types: dict[str, Any] = {}
        for name in order:
            if name in self.unions:
                python_types[name] = _union_type(self.unions[name], python_types)
            else:
                python_types[name] = _typed_dict(name, self.types[name], python_types)
        self._check_keys()
        seed, seed_files = self._load_seeds(python_types)
        self.auth = check_context(spec, known, python_types, lambda e: _python_type(e, python_types), self.c.add)
        helpers = self._check_helpers(known, collections, python_types)
        self.tool_errors = self._tool_errors()
        for tool_name, tool_spec in spec.tools.items():
            added = self._added_errors(tool_spec)
            if added:
                self.tool_errors[tool_name] = {**self.tool_errors[tool_name], **added}
        params, returns = self._check_tools(known, collections, python_types)
        self._check_invariants()
        if spec.error_when is not None:
            self._check_code(("error_when",), spec.error_when, names=RESULT_NAMES)
        scenario = self._check_scenario(known, collections, python_types)
        views = self._check_views(known, collections)
        if self.c.issues:
            return None
        data_files = [self.path.parent / rel for rel in seed_files.values()]
        return LoadedSpec(
            spec=spec,
            path=self.path,
            sha256=spec_sha256(self.path, data_files),
            types={name: self.types.get(name, []) for name in order},
            unions=self.unions,
            records=self.records,
            params=params,
            returns=returns,
            seed=seed,
            seed_files=seed_files,
            python_types=python_types,
            helpers=helpers,
            tool_errors=self.tool_errors,
            scenario=scenario,
            views=views,
            keys=self.keys,
            pages=self.pages,
            auth=self.auth,
        )

    def _added_errors(self, tool: ToolSpec | None) -> dict[str, str]:
        """The errors auth and a cursor page add to a tool (or, for None, to a helper)."""
        added = dict(AUTH_ERRORS) if self.spec.auth is not None else {}
        if tool is not None and tool.page is not None and tool.page.style == "cursor":
            added.update(PAGE_ERRORS)
        return added

    def _resolve_unions(self, known: set[str], colls: set[str]) -> dict[str, ResolvedUnion]:
        """Check each `union:` type: named object types, and a discriminator every one of them fixes."""
        unions: dict[str, ResolvedUnion] = {}
        for name, type_spec in self.spec.types.items():
            if type_spec.union is None:
                if type_spec.discriminator is not None:
                    self.c.add(("types", name, "discriminator"), "a discriminator needs a union")
                continue
            loc: Loc = ("types", name, "union")
            members: list[TypeExpr] = []
            for index, text in enumerate(type_spec.union):
                try:
                    expr = parse_type(text, known, colls)
                except TypeSyntaxError as exc:
                    self.c.type_issue((*loc, index), exc)
                    continue
                if expr.kind != "named" or expr.name not in self.types:
                    self.c.add((*loc, index), f"a union's members are object types with fields, not {text!r}")
                    continue
                members.append(expr)
            if len(type_spec.union) < 2:
                self.c.add(loc, "a union needs at least two object types")
            discriminator = type_spec.discriminator
            if discriminator is not None:
                seen: set[str | int] = set()
                for member in members:
                    found = next((f for f in self.types[member.name] if f.name == discriminator), None)
                    if found is None or found.optional or found.type.kind != "literal":
                        self.c.add(
                            ("types", name, "discriminator"),
                            f"'{member.name}' needs a required field '{discriminator}' of a Literal type",
                            f"e.g. {discriminator}: Literal['{member.name.lower()}']",
                        )
                        continue
                    if seen & set(found.type.values):
                        self.c.add(
                            ("types", name, "discriminator"),
                            f"'{member.name}' shares a '{discriminator}' value with another member",
                        )
                    seen |= set(found.type.values)
            unions[name] = ResolvedUnion(name, tuple(members), discriminator, type_spec.description)
        return unions

    def _declare_names(self) -> set[str]:
        known: set[str] = set()
        for name in self.spec.types:
            self.check_name(("types", name), "type", name)
            known.add(name)
        for coll, coll_spec in self.spec.collections.items():
            self.check_name(("collections", coll), "collection", coll)
            if coll_spec.record in known:
                self.c.add(("collections", coll, "record"), f"record type '{coll_spec.record}' is already declared")
            else:
                self.check_name(("collections", coll, "record"), "record", coll_spec.record)
            known.add(coll_spec.record)
        return known

    def _field(self, loc: Loc, name: str, raw: str | FieldSpec, known: set[str], colls: set[str]) -> ResolvedField:
        spec = raw if isinstance(raw, FieldSpec) else FieldSpec.model_validate({"type": raw})
        self.check_name(loc, "field", name)
        type_loc = (*loc, "type") if isinstance(raw, FieldSpec) else loc
        try:
            expr = parse_type(spec.type, known, colls)
        except TypeSyntaxError as exc:
            self.c.type_issue(type_loc, exc)
            expr = TypeExpr("scalar", "any")
        constraints = self._constraints(loc, expr, spec, raw_is_mapping=isinstance(raw, FieldSpec))
        return ResolvedField(name, expr, spec.description, spec.optional, constraints)

    def _constraints(self, loc: Loc, expr: TypeExpr, spec: Constraints, *, raw_is_mapping: bool) -> dict[str, Any]:
        """Check that each constraint fits the type it is on (docs/spec.md "Constraints"); return those that do."""
        given = spec.constraints() if raw_is_mapping else {}
        if not given:
            return {}
        inner = expr.args[0] if expr.kind == "optional" else expr
        family = (
            "number"
            if inner.kind == "scalar" and inner.name in ("int", "float")
            else "string"
            if inner.kind == "scalar" and inner.name == "str"
            else "list"
            if inner.kind == "list"
            else None
        )
        kept: dict[str, Any] = {}
        for name, value in given.items():
            wanted = _CONSTRAINT_FAMILY[name]
            if family != wanted:
                types = {"number": "int or float", "string": "str", "list": "list[...]"}[wanted]
                self.c.add((*loc, name), f"'{name}' applies to {types} values, not {expr.annotation()}")
                continue
            if name == "pattern":
                problem = _pattern_problem(value)
                if problem is not None:
                    self.c.add((*loc, name), f"pattern {value!r} {problem}")
                    continue
            kept[name] = value
        for low, high in _BOUNDS:
            if low in kept and high in kept and kept[low] > kept[high]:
                self.c.add((*loc, low), f"{low} {kept[low]} is above {high} {kept[high]}")
        return kept

    def _dependency_order(self, raw: dict[str, tuple[Loc, dict[str, Any]]]) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " -> ".join([*trail[trail.index(name) :], name])
                where = raw[name][0] if name in raw else ("types", name, "union")
                self.c.add(where, f"recursive type: {cycle}", "nest a list of keys (ref[...]) instead")
                return
            state[name] = 1
            if name in self.unions:
                deps = [m.name for m in self.unions[name].members]
            else:  # field by field, as the fields are declared
                deps = [dep for f in self.types[name] for dep in sorted(f.type.names())]
            for dep in deps:
                if dep in self.types or dep in self.unions:
                    visit(dep, [*trail, name])
            state[name] = 2
            order.append(name)

        for name in [*self.types, *self.unions]:
            visit(name, [])
        return order

    def _check_keys(self) -> None:
        """A list seed needs a declared key field; the key's own type is checked by `resolve_keys`."""
        for coll, coll_spec in self.spec.collections.items():
            fields = {f.name: f for f in self.types[coll_spec.record]}
            if not isinstance(coll_spec.key, str):
                continue
            key_field = fields.get(coll_spec.key)
            if key_field is None and isinstance(coll_spec.seed, list) and coll_spec.seed:
                self.c.add(
                    ("collections", coll, "key"),
                    f"key '{coll_spec.key}' is not a field of {coll_spec.record}, so list seeds cannot be keyed",
                    _suggest(coll_spec.key, fields) or f"declare '{coll_spec.key}: str' in fields, or give a mapping",
                )

    def _load_seeds(self, python_types: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        seed: dict[str, dict[str, Any]] = {}
        files: dict[str, str] = {}
        for coll, coll_spec in self.spec.collections.items():
            loc: Loc = ("collections", coll, "seed")
            raw: Any = coll_spec.seed
            inline = not isinstance(raw, str)
            if isinstance(raw, str):
                raw = self._read_seed_file(loc, raw)
                if raw is None:
                    continue
                files[coll] = coll_spec.seed  # type: ignore[assignment]
            info = self.keys[coll]
            # Each record with the location to blame: its own line inline, the seed line for a file.
            rows: list[tuple[str, Any, Loc]] = []
            if isinstance(raw, list):
                if info.fields is None:
                    continue  # reported by _check_keys
                seen: set[str] = set()
                for index, record in enumerate(raw):
                    at = (*loc, index) if inline else loc
                    key = info.of(record)
                    if key is None:
                        what = {"str": "string key field", "int": "integer key field", "tuple": "key fields"}
                        names = info.fields if isinstance(info.fields, str) else ", ".join(info.fields)
                        self.c.add(at, f"seed row {index} has no {what[info.kind]} '{names}'")
                        continue
                    if key in seen:
                        self.c.add(at, f"seed row {index}: duplicate key {key!r}")
                    seen.add(key)
                    rows.append((key, record, at))
            elif isinstance(raw, dict):
                rows = [(key, record, (*loc, key) if inline else loc) for key, record in raw.items()]
            else:
                self.c.add(loc, "a seed is a list of records or a mapping {key: record}")
                continue
            adapter = pydantic.TypeAdapter(python_types[coll_spec.record])
            for key, record, at in rows:
                try:
                    adapter.validate_python(record, strict=True)
                except pydantic.ValidationError as exc:
                    first = exc.errors(include_url=False)[0]
                    where = ".".join(str(p) for p in first["loc"])
                    where = f"{where}: " if where else ""
                    self.c.add(at, f"seed record {key!r} does not match {coll_spec.record}: {where}{first['msg']}")
                    continue
                if isinstance(info.fields, str) and info.of(record) != key:
                    field_value = record.get(info.fields)
                    self.c.add(at, f"seed record {key!r} has {info.fields}={field_value!r}, not its key")
                elif isinstance(info.fields, tuple) and info.of(record) != key:
                    found = key_to_wire(tuple(record.get(f) for f in info.fields))
                    self.c.add(at, f"seed record {key!r} carries the key {found!r} in its key fields")
            seed[coll] = {key: record for key, record, _ in rows}
        return seed, files

    def _read_seed_file(self, loc: Loc, relative: str) -> Any:
        folder = self.path.parent.resolve()
        data_path = (folder / relative).resolve()
        if not data_path.is_relative_to(folder):
            self.c.add(loc, f"seed file {relative!r} is outside the spec's folder")
            return None
        try:
            return load_json(read_text(data_path, MAX_DATA_BYTES, "seed file", allow_bom=False))
        except OSError:
            self.c.add(loc, f"seed file {relative!r} not found", f"expected at {display_path(data_path)}")
        except InputProblem as problem:
            self.c.add_in(data_path, loc, problem)
        return None

    def _params(
        self, owner: Loc, raw_params: dict[str, Any], known: set[str], colls: set[str], python_types: dict[str, Any]
    ) -> list[ResolvedParam]:
        """Resolve the parameters of a tool or helper, reporting each mistake at its place."""
        params: list[ResolvedParam] = []
        for pname, raw in raw_params.items():
            ploc = (*owner, "params", pname)
            spec = raw if isinstance(raw, ParamSpec) else ParamSpec.model_validate({"type": raw})
            self.check_name(ploc, "parameter", pname)
            try:
                expr = parse_type(spec.type, known, colls)
            except TypeSyntaxError as exc:
                self.c.type_issue((*ploc, "type") if isinstance(raw, ParamSpec) else ploc, exc)
                expr = TypeExpr("scalar", "any")  # keep the parameter so the body is not blamed for it
            if spec.enum is not None:
                if expr.kind not in ("scalar", "ref") or expr.name not in ("str", "int", ""):
                    self.c.add((*ploc, "enum"), "enum applies to str or int parameters")
                expr = literal_from_enum(spec.enum)
            if spec.alias is not None and (not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", spec.alias)):
                self.c.add((*ploc, "alias"), f"alias {spec.alias!r} is not a valid argument name")
            constraints = self._constraints(ploc, expr, spec, raw_is_mapping=isinstance(raw, ParamSpec))
            param = ResolvedParam(
                pname, expr, spec.description, spec.default, spec.has_default, spec.alias, constraints
            )
            if param.has_default:
                try:
                    pydantic.TypeAdapter(constrained_type(expr, constraints, python_types)).validate_python(
                        spec.default, strict=True
                    )
                except pydantic.ValidationError as exc:
                    self.c.add(
                        (*ploc, "default"),
                        f"default {spec.default!r} does not match type {spec.type}: {exc.errors()[0]['msg']}",
                    )
            params.append(param)
        wire = [p.wire_name for p in params]
        for param in params:
            if wire.count(param.wire_name) > 1:
                self.c.add((*owner, "params", param.name), f"argument name '{param.wire_name}' is used twice")
        return params

    def _check_helpers(
        self, known: set[str], colls: set[str], python_types: dict[str, Any]
    ) -> dict[str, tuple[list[ResolvedParam], TypeExpr]]:
        helpers: dict[str, tuple[list[ResolvedParam], TypeExpr]] = {}
        for name, helper in self.spec.helpers.items():
            hloc: Loc = ("helpers", name)
            self.check_name(hloc, "helper", name)
            params = self._params(hloc, helper.params, known, colls, python_types)
            seen_default = False
            for param in params:
                if param.alias is not None:
                    self.c.add((*hloc, "params", param.name, "alias"), "helper parameters take no alias")
                if seen_default and not param.has_default:
                    self.c.add(
                        (*hloc, "params", param.name),
                        f"parameter '{param.name}' without a default follows one with a default",
                    )
                seen_default = seen_default or param.has_default
            try:
                returns = parse_type(helper.returns, known, colls)
            except TypeSyntaxError as exc:
                self.c.type_issue((*hloc, "returns"), exc)
                returns = TypeExpr("scalar", "any")
            self._check_templates(hloc, helper.errors)
            errors = {**helper.errors, **self._added_errors(None)}
            self._check_code((*hloc, "body"), helper.body, params=[p.name for p in params], errors=errors)
            if _calls_names(helper.body, {"rng"}):
                self.c.add((*hloc, "body"), "helpers cannot use rng", "draw the value in the tool and pass it in")
            helpers[name] = (params, returns)
        return helpers

    def _check_templates(self, owner: Loc, errors: dict[str, str]) -> None:
        for code, template in errors.items():
            if not code.isidentifier():
                self.c.add((*owner, "errors", code), f"error code '{code}' is not an identifier", at_key=True)
            try:
                _restrict.template_fields(template)
            except ValueError as exc:
                self.c.add((*owner, "errors", code), f"bad message template: {exc}")

    def _tool_errors(self) -> dict[str, dict[str, str]]:
        """Each tool's errors: its own and those of every helper it calls, directly or through helpers."""
        names = set(self.spec.helpers)
        calls = {name: _calls_names(h.body, names) for name, h in self.spec.helpers.items()}
        merged: dict[str, dict[str, str]] = {}
        for tool_name, tool in self.spec.tools.items():
            reached: set[str] = set()
            frontier = _calls_names(tool.body, names)
            while frontier:
                helper = frontier.pop()
                if helper not in reached:
                    reached.add(helper)
                    frontier |= calls[helper]
            errors = dict(tool.errors)
            for helper in sorted(reached):
                for code, template in self.spec.helpers[helper].errors.items():
                    if errors.setdefault(code, template) != template:
                        self.c.add(
                            ("tools", tool_name, "errors", code),
                            f"error '{code}' has another message in helper '{helper}'",
                            "give the two errors different codes, or the same message",
                        )
            merged[tool_name] = errors
        return merged

    def _check_tools(
        self, known: set[str], colls: set[str], python_types: dict[str, Any]
    ) -> tuple[dict[str, list[ResolvedParam]], dict[str, TypeExpr]]:
        all_params: dict[str, list[ResolvedParam]] = {}
        returns: dict[str, TypeExpr] = {}
        for tool_name, tool in self.spec.tools.items():
            tloc: Loc = ("tools", tool_name)
            if not TOOL_NAME.match(tool_name) or keyword.iskeyword(tool_name):
                shown = printable(tool_name)
                self.c.add(tloc, f"tool name '{shown}' must match ^[a-zA-Z][a-zA-Z0-9_]{{0,63}}$", at_key=True)
            else:
                self.check_name(tloc, "tool", tool_name)
            if not tool.description.strip():
                self.c.add((*tloc, "description"), "empty description", "say what the tool does for the agent")
            params = self._params(tloc, tool.params, known, colls, python_types)
            all_params[tool_name] = params
            try:
                returns[tool_name] = parse_type(tool.returns, known, colls)
            except TypeSyntaxError as exc:
                self.c.type_issue((*tloc, "returns"), exc)
            self._check_templates(tloc, tool.errors)
            errors = {**tool.errors, **self._added_errors(tool)}
            self._check_code((*tloc, "body"), tool.body, params=[p.name for p in params], errors=errors)
            if tool.error_when is not None:
                self._check_code((*tloc, "error_when"), tool.error_when, names=RESULT_NAMES)
            if tool.page is not None:
                wire = [p.wire_name for p in params]
                page = resolve_page((*tloc, "page"), tool.page, returns.get(tool_name), wire, self.c.add)
                if page is not None:
                    self.pages[tool_name] = page
            if tool_name in returns and (tool.page is None or tool_name in self.pages):
                self._check_examples(tool_name, params, returns[tool_name], python_types)
        return all_params, returns

    def _check_code(
        self,
        loc: Loc,
        source: str,
        *,
        params: list[str] | None = None,
        errors: dict[str, str] | None = None,
        names: frozenset[str] = _restrict.EXPRESSION_NAMES,
    ) -> None:
        if params is None:
            violations = _restrict.check_expression(source, names=names)
        else:
            type_names = set(self.types)
            violations = _restrict.check_body(
                source,
                params=params,
                error_templates=errors,
                type_names=type_names,
                helpers={*self.spec.helpers, *self.body_names},
            )
        for v in violations:
            line, col = self.c.source.body_position(loc, v.line, v.col)
            self.c.add_at(loc, line, col, v.message, v.hint)

    def _check_examples(
        self, tool_name: str, params: list[ResolvedParam], returns: TypeExpr, python_types: dict[str, Any]
    ) -> None:
        tool = self.spec.tools[tool_name]
        fields: dict[str, Any] = {
            p.name: (
                constrained_type(p.type, p.constraints, python_types),
                pydantic.Field(p.default if p.has_default else ..., alias=p.alias),
            )
            for p in params
            if p.name.isidentifier() and not p.name.startswith("_")  # a bad name is reported already
        }
        page = self.pages.get(tool_name)
        if page is not None:
            fields.update(page.fields())
        model = pydantic.create_model(
            f"{tool_name}_args", __config__=pydantic.ConfigDict(extra="forbid", strict=True), **fields
        )
        result_type = _python_type(returns, python_types)
        result_adapter = pydantic.TypeAdapter(result_type if page is None else page.result_type(result_type))
        for index, example in enumerate(tool.examples):
            eloc: Loc = ("tools", tool_name, "examples", index)
            try:
                model.model_validate(example.args)
            except pydantic.ValidationError as exc:
                for item in exc.errors(include_url=False):
                    where = ".".join(str(p) for p in item["loc"])
                    self.c.add((*eloc, "args"), f"example arguments: {where}: {item['msg']}")
            if example.expects_result == (example.error is not None):
                self.c.add(eloc, "an example gives exactly one of 'returns' or 'error'")
            errors = self.tool_errors.get(tool_name, tool.errors)
            if example.error is not None and example.error not in errors:
                self.c.add((*eloc, "error"), f"unknown error code '{example.error}'", _suggest(example.error, errors))
            if example.expects_result:
                try:
                    result_adapter.validate_python(example.returns, strict=True)
                except pydantic.ValidationError as exc:
                    first = exc.errors(include_url=False)[0]
                    where = ".".join(str(p) for p in first["loc"])
                    at = f"{where}: " if where else ""
                    what = tool.returns if page is None else f"page of {tool.returns}"
                    self.c.add((*eloc, "returns"), f"example result is not a {what}: {at}{first['msg']}")
            for cindex, call in enumerate(example.before):
                if call.tool not in self.spec.tools:
                    self.c.add(
                        (*eloc, "before", cindex, "tool"),
                        f"unknown tool '{call.tool}'",
                        _suggest(call.tool, self.spec.tools),
                    )

    def _check_scenario(
        self, known: set[str], colls: set[str], python_types: dict[str, Any]
    ) -> list[ResolvedParam] | None:
        scenario = self.spec.scenario
        if scenario is None:
            return None
        loc: Loc = ("scenario",)
        params = self._params(loc, scenario.params, known, colls, python_types)
        for param in params:
            if param.alias is not None:
                self.c.add((*loc, "params", param.name, "alias"), "scenario parameters take no alias")
        self._check_code((*loc, "body"), scenario.body, params=[p.name for p in params], errors={})
        return params

    def _check_views(self, known: set[str], colls: set[str]) -> dict[str, TypeExpr]:
        views: dict[str, TypeExpr] = {}
        for name, view in self.spec.views.items():
            loc: Loc = ("views", name)
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
                self.c.add(loc, f"view name '{name}' must match ^[a-z][a-z0-9_]{{0,63}}$", at_key=True)
            try:
                views[name] = parse_type(view.returns, known, colls)
            except TypeSyntaxError as exc:
                self.c.type_issue((*loc, "returns"), exc)
            self._check_code((*loc, "body"), view.body, params=[], errors={})
            if _calls_names(view.body, {"rng"}):
                self.c.add((*loc, "body"), "views cannot use rng", "a view reads the state; it draws nothing")
        return views

    def _check_invariants(self) -> None:
        seen: set[str] = set()
        for index, inv in enumerate(self.spec.invariants):
            loc: Loc = ("invariants", index)
            if inv.name in seen:
                self.c.add((*loc, "name"), f"duplicate invariant '{inv.name}'")
            else:
                self.check_name((*loc, "name"), "invariant", inv.name)
            seen.add(inv.name)
            self._check_code((*loc, "check"), inv.check)
