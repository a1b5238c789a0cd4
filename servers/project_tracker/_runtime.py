# Copied by mcpfactory 0.1.0 from mcpfactory/runtime.py; do not edit.
# Regenerate: mcpfactory compile servers/project_tracker/spec.yaml
"""Session state and MCP plumbing shared by every generated server.

`mcpfactory compile` copies this module verbatim into each server folder as
`_runtime.py`, so a compiled server imports only `mcp`, `pydantic` and the
standard library. It is also importable from `mcpfactory` for tests.

Design, in short:

- The seed is loaded once per process and frozen (`FrozenDict`/`FrozenList`);
  every session reads it in place. A session holds only what it wrote
  (copy-on-write per record), so a reset costs the same whatever the seed size
  and a session's memory grows with its writes.
- A tool call is atomic: writes go to a per-call layer that is validated and
  merged when the body returns, and dropped when it raises.
- Two error channels (after the MCP SDK and FastMCP): `ToolError` is a domain
  failure the model reads; any other exception is a bug of the environment,
  logged with its traceback, masked for the client and flagged in `_meta`.
"""

from __future__ import annotations

import argparse
import functools
import gc
import hashlib
import hmac
import inspect
import itertools
import json
import logging
import os
import random
import sys
import typing
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, NoReturn, TypeVar

import mcp_types as types
import pydantic
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError
from pydantic import PlainValidator, WithJsonSchema
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "CONTROL_SECRET_META_KEY",
    "CONTROL_TOOLS",
    "ERROR_META_KEY",
    "FAULT_META_KEY",
    "SESSION_META_KEY",
    "Collection",
    "Environment",
    "FrozenDict",
    "FrozenList",
    "Number",
    "ReadOnlyError",
    "Session",
    "StateBase",
    "ToolDef",
    "ToolError",
    "canonical_json",
    "freeze",
    "load_json_seed",
    "state_sha256",
    "thaw",
]

logger = logging.getLogger("mcpfactory.server")

SESSION_META_KEY = "io.mcpfactory/session"
CONTROL_SECRET_META_KEY = "io.mcpfactory/control-secret"
ERROR_META_KEY = "io.mcpfactory/error"
FAULT_META_KEY = "io.mcpfactory/fault"
_CONTROL_SECRET_ENV = "MCPFACTORY_CONTROL_SECRET"
_MODERN_ERA = "2026-"

_R = TypeVar("_R")


# --------------------------------------------------------------------------- values


class ReadOnlyError(TypeError):
    """A body mutated a record it read without `edit()`."""


def _read_only(*_: object, **__: object) -> NoReturn:
    raise ReadOnlyError("records read from state are read-only; call state.<collection>.edit(key) to change one")


class FrozenDict(dict[str, Any]):
    """A JSON object that cannot be changed in place."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    def __copy__(self) -> dict[str, Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __deepcopy__(self, memo: object) -> dict[str, Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A JSON array that cannot be changed in place."""

    __slots__ = ()
    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = sort = reverse = _read_only
    __iadd__ = __imul__ = _read_only

    def __copy__(self) -> list[Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __deepcopy__(self, memo: object) -> list[Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """Return a deeply read-only copy of a JSON value (frozen parts are shared)."""
    if type(value) is FrozenDict or type(value) is FrozenList:
        return value
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Return a deeply mutable copy of a JSON value."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Serialise as canonical JSON: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def state_sha256(state: Mapping[str, Any]) -> str:
    """Hash a state `{collection: {key: record}}` as SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(state).encode("utf-8")).hexdigest()


def _json_number(value: Any) -> Any:
    # JSON has one number type; keep an integer an integer (tau-bench's state stores 150, not 150.0).
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("float_type", "Input should be a valid number")


Number = Annotated[float, PlainValidator(_json_number), WithJsonSchema({"type": "number"})]
"""The spec's `float`: any JSON number, kept as given (an int stays an int)."""


# --------------------------------------------------------------------------- state

_MISSING: Any = object()


class Collection(Generic[_R]):
    """One keyed collection of a session's state: the frozen seed plus this session's writes."""

    __slots__ = ("_base", "_layer", "_name", "_overlay", "_session", "_size")

    def __init__(self, name: str, base: Mapping[str, Any], session: Session) -> None:
        self._name = name
        self._base = base
        self._overlay: dict[str, Any] = {}  # committed writes; None marks a deletion
        self._layer: dict[str, Any] | None = None  # the current call's writes
        self._size = len(base)  # committed records, kept up to date so len() is O(the call's writes)
        self._session = session

    # reads -------------------------------------------------------------
    def _lookup(self, key: str) -> Any:
        layer = self._layer
        if layer is not None and key in layer:
            return layer[key]
        if key in self._overlay:
            return self._overlay[key]
        return self._base.get(key)

    def get(self, key: str, default: Any = None) -> _R | None:
        """Return the record under `key` (read-only), or `default`."""
        record: _R | None = self._lookup(key)
        return default if record is None else record

    def __getitem__(self, key: str) -> _R:
        record = self._lookup(key)
        if record is None:
            raise KeyError(f"{self._name} has no record {key!r}")
        return record  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not None

    def _changes(self) -> dict[str, Any]:
        if self._layer:
            return {**self._overlay, **self._layer}
        return self._overlay

    def __iter__(self) -> Iterator[str]:
        changes = self._changes()
        if not changes:
            yield from self._base
            return
        for key in self._base:
            if changes.get(key, True) is not None:
                yield key
        for key, record in changes.items():
            if record is not None and key not in self._base:
                yield key

    def keys(self) -> Iterator[str]:
        return iter(self)

    def values(self) -> Iterator[_R]:
        changes = self._changes()
        if not changes:
            yield from self._base.values()
            return
        for key, record in self._base.items():
            current = changes.get(key, record)
            if current is not None:
                yield current
        for key, record in changes.items():
            if record is not None and key not in self._base:
                yield record

    def items(self) -> Iterator[tuple[str, _R]]:
        changes = self._changes()
        if not changes:
            yield from self._base.items()
            return
        for key, record in self._base.items():
            current = changes.get(key, record)
            if current is not None:
                yield key, current
        for key, record in changes.items():
            if record is not None and key not in self._base:
                yield key, record

    def __len__(self) -> int:
        size = self._size  # committed records; adjust for what the current call wrote
        for key, record in (self._layer or {}).items():
            existed = self._committed(key) is not None
            size += (record is not None) - existed
        return size

    def _committed(self, key: str) -> Any:
        return self._overlay[key] if key in self._overlay else self._base.get(key)

    def __repr__(self) -> str:
        return f"<Collection {self._name}: {len(self)} records>"

    # writes ------------------------------------------------------------
    def _writable_layer(self) -> dict[str, Any]:
        self._session.check_writable(self._name)
        if self._layer is None:
            self._layer = {}
            self._session.touched.append(self)
        return self._layer

    def edit(self, key: str) -> _R:
        """Return a writable copy of the record under `key`; changes are kept if the call succeeds."""
        layer = self._writable_layer()
        record = layer.get(key, _MISSING)
        if record is _MISSING:
            current = self._overlay[key] if key in self._overlay else self._base.get(key)
            if current is None:
                raise KeyError(f"{self._name} has no record {key!r}")
            record = layer[key] = thaw(current)
        elif record is None:
            raise KeyError(f"{self._name} has no record {key!r}")
        return record  # type: ignore[no-any-return]

    def __setitem__(self, key: str, record: _R) -> None:
        if not isinstance(key, str):
            raise TypeError(f"{self._name} keys are strings, not {type(key).__name__}")
        if not isinstance(record, dict):
            raise TypeError(f"a {self._name} record is an object, not {type(record).__name__}")
        self._writable_layer()[key] = record

    def __delitem__(self, key: str) -> None:
        layer = self._writable_layer()
        if self._lookup(key) is None:
            raise KeyError(f"{self._name} has no record {key!r}")
        layer[key] = None

    # the session's side ---------------------------------------------------
    def _prepare(self, validate: Callable[[str, Any], None]) -> list[tuple[str, Any]]:
        """Validate and freeze this call's writes without applying them; raise if any record is invalid."""
        assert self._layer is not None
        prepared = []
        for key, record in self._layer.items():
            if record is not None:
                validate(key, record)
                record = freeze(record)
            prepared.append((key, record))
        return prepared

    def _apply(self, prepared: list[tuple[str, Any]]) -> None:
        """Merge prepared writes into the session's state; a record equal to the seed holds nothing."""
        self._layer = None
        for key, record in prepared:
            self._size += (record is not None) - (self._committed(key) is not None)
            # A deletion of a record the seed lacks, or a record back to its seed value, holds nothing.
            if (record is None and key not in self._base) or (record is not None and self._base.get(key) == record):
                self._overlay.pop(key, None)
            else:
                self._overlay[key] = record

    def _rollback(self) -> None:
        self._layer = None

    def _snapshot(self, scope: str) -> dict[str, Any]:
        if scope == "changes":
            return dict(self._overlay)
        return {key: self._lookup(key) for key in self}


class StateBase:
    """The typed `state` object a body sees; generated servers subclass it with one attribute per collection."""

    def __init__(self, session: Session, seed: Mapping[str, Mapping[str, Any]]) -> None:
        for name, base in seed.items():
            setattr(self, name, Collection(name, base, session))

    def collections(self) -> dict[str, Collection[Any]]:
        return dict(vars(self))


class Session:
    """One client's state, random generator and call bookkeeping."""

    __slots__ = ("_rng", "seed", "state", "touched", "writable")

    def __init__(self, env: Environment, seed: int | None = None, patch: Mapping[str, Any] | None = None) -> None:
        self.seed = env.default_seed if seed is None else seed
        self._rng: random.Random | None = None
        self.touched: list[Collection[Any]] = []
        self.writable = False
        self.state = env.state_class(self, env.seed_state())
        if patch:
            collections = self.state.collections()
            for name, records in patch.items():
                collection = collections[name]
                collection._apply(
                    [(key, None if record is None else freeze(record)) for key, record in records.items()]
                )

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng

    def check_writable(self, collection: str) -> None:
        if not self.writable:
            raise ReadOnlyError(f"a read tool tried to write to {collection}")

    def snapshot(self, scope: str = "full") -> dict[str, dict[str, Any]]:
        return {name: c._snapshot(scope) for name, c in self.state.collections().items()}


class ToolError(Exception):
    """A domain failure: the call is refused with the tool's declared message for `code`."""

    def __init__(self, code: str, **fields: Any) -> None:
        super().__init__(code)
        self.code = code
        self.fields = fields


# --------------------------------------------------------------------------- tools


class _SchemaNoTitles(GenerateJsonSchema):
    """JSON Schema without pydantic's generated titles: shorter prompts, same meaning."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def generate(self, schema: Any, mode: Any = "validation") -> Any:
        result = super().generate(schema, mode)
        result.pop("title", None)
        for definition in result.get("$defs", {}).values():
            definition.pop("title", None)
        return result


def _json_schema(adapter: pydantic.TypeAdapter[Any]) -> dict[str, Any]:
    return adapter.json_schema(schema_generator=_SchemaNoTitles)


def _is_object_schema(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "object":
        return True
    ref = schema.get("$ref")
    return isinstance(ref, str) and ref.startswith("#/$defs/")


@dataclass
class ToolDef:
    """A compiled tool: the body, its argument model and its schemas."""

    name: str
    description: str
    effect: Literal["read", "write"]
    errors: Mapping[str, str]
    func: Callable[..., Any]
    injected: tuple[str, ...]
    arguments: type[pydantic.BaseModel]
    output_schema: dict[str, Any]
    wraps_result: bool
    mcp_tool: types.Tool = field(repr=False)


def _tool_def(func: Callable[..., Any], effect: Literal["read", "write"], errors: Mapping[str, str]) -> ToolDef:
    name = func.__name__
    hints = typing.get_type_hints(func, include_extras=True)
    fields: dict[str, Any] = {}
    injected: list[str] = []
    for param in inspect.signature(func).parameters.values():
        if param.name in ("state", "rng"):
            injected.append(param.name)
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], default)
    config = pydantic.ConfigDict(extra="forbid", strict=True)
    arguments = pydantic.create_model(f"{name}_arguments", __config__=config, **fields)
    input_schema = arguments.model_json_schema(schema_generator=_SchemaNoTitles)
    output_schema = _json_schema(pydantic.TypeAdapter(hints["return"]))
    wraps = not _is_object_schema(output_schema)
    if wraps:
        defs = output_schema.pop("$defs", None)
        output_schema = {"type": "object", "properties": {"result": output_schema}, "required": ["result"]}
        if defs:
            output_schema["$defs"] = defs
    description = inspect.cleandoc(func.__doc__ or "")
    tool = types.Tool(
        name=name,
        description=description,
        input_schema=input_schema,
        output_schema=output_schema,
        annotations=types.ToolAnnotations(
            read_only_hint=effect == "read",
            destructive_hint=False if effect == "read" else None,
            idempotent_hint=True if effect == "read" else None,
            open_world_hint=False,
        ),
    )
    return ToolDef(name, description, effect, errors, func, tuple(injected), arguments, output_schema, wraps, tool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _error_result(message: str, meta_key: str, meta: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True, _meta={meta_key: meta})


def _describe_validation_error(tool: str, error: pydantic.ValidationError) -> tuple[str, list[str]]:
    problems: list[str] = []
    fields: list[str] = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(arguments)"
        fields.append(where)
        got = "" if item["type"] == "missing" else f" (got {json.dumps(item['input'], default=repr)[:80]})"
        problems.append(f"{where}: {item['msg']}{got}")
    return f"Invalid arguments for {tool}: " + "; ".join(problems), fields


# --------------------------------------------------------------------------- environment

CONTROL_TOOLS = (
    "_control_reset",
    "_control_snapshot",
    "_control_state_hash",
    "_control_invariants",
    "_control_close",
)


class Environment:
    """Everything a generated server declares: metadata, state layout, tools and invariants."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        description: str,
        instructions: str | None,
        state_class: type[StateBase],
        seed: Callable[[], Mapping[str, Mapping[str, Any]]],
        records: Mapping[str, tuple[str | None, Any]],
        clock: datetime,
        default_seed: int = 0,
    ) -> None:
        self.name = name
        self.version = version
        self.description = description
        self.instructions = instructions
        self.state_class = state_class
        self.clock = clock
        self.default_seed = default_seed
        self._load_seed = seed
        self._seed: dict[str, FrozenDict] | None = None
        self._seed_json: dict[str, dict[str, str]] | None = None
        self._validators = {
            coll: (key_field, pydantic.TypeAdapter(record)) for coll, (key_field, record) in records.items()
        }
        self.tools: dict[str, ToolDef] = {}
        self.invariants: list[tuple[str, str, Callable[[Any], bool]]] = []
        self._faults = itertools.count(1)
        self._process_session: Session | None = None

    # declaration -----------------------------------------------------------
    def tool(
        self, *, effect: Literal["read", "write"], errors: Mapping[str, str] | None = None
    ) -> Callable[[Callable[..., _R]], Callable[..., _R]]:
        """Register a tool body; its signature and docstring define the MCP tool."""

        def register(func: Callable[..., _R]) -> Callable[..., _R]:
            self.tools[func.__name__] = _tool_def(func, effect, errors or {})
            return func

        return register

    def invariant(self, name: str, message: str) -> Callable[[Callable[[Any], bool]], Callable[[Any], bool]]:
        """Register a check that must hold on the state after every call."""

        def register(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
            self.invariants.append((name, message, check))
            return check

        return register

    # state -------------------------------------------------------------------
    def seed_state(self) -> dict[str, FrozenDict]:
        """Return the frozen seed, loading it on first use."""
        if self._seed is None:
            self._seed = {name: freeze(records) for name, records in self._load_seed().items()}
        return self._seed

    def state_sha256(self, session: Session) -> str:
        """Hash a session's state; equal to `state_sha256(session.snapshot())`, without re-serialising the seed."""
        return hashlib.sha256(self.canonical_state(session).encode("utf-8")).hexdigest()

    def canonical_state(self, session: Session) -> str:
        """Canonical JSON of a session's state, built from each seed record's JSON (cached once per process)."""
        if self._seed_json is None:
            self._seed_json = {
                name: {key: canonical_json(record) for key, record in records.items()}
                for name, records in self.seed_state().items()
            }
        parts = []
        for name, collection in sorted(session.state.collections().items()):
            seed_json, changes = self._seed_json[name], collection._changes()
            records = ",".join(
                f"{canonical_json(key)}:{canonical_json(changes[key]) if key in changes else seed_json[key]}"
                for key in sorted(collection)
            )
            parts.append(f"{canonical_json(name)}:{{{records}}}")
        return "{" + ",".join(parts) + "}"

    def new_session(self, seed: int | None = None, patch: Mapping[str, Any] | None = None) -> Session:
        return Session(self, seed, patch)

    def session_from_state(self, state: Mapping[str, Mapping[str, Any]], seed: int | None = None) -> Session:
        """Start a session whose state is exactly `state` (collections missing from it are empty)."""
        seed_state = self.seed_state()
        patch: dict[str, dict[str, Any]] = {}
        for name, base in seed_state.items():
            given = state.get(name, {})
            changes = {key: None for key in base if key not in given}
            changes.update({key: record for key, record in given.items() if base.get(key) != record})
            patch[name] = changes
        for name, records in patch.items():
            for key, record in records.items():
                if record is not None:
                    self._validate_record(name, key, thaw(record))
        return Session(self, seed, patch)

    def _validate_record(self, collection: str, key: str, record: Any) -> None:
        key_field, adapter = self._validators[collection]
        adapter.validate_python(record, strict=True)
        if key_field is not None and record.get(key_field) != key:
            raise ValueError(f"{collection}[{key!r}].{key_field} is {record.get(key_field)!r}, not its key")

    def check_invariants(self, session: Session) -> list[dict[str, str]]:
        violations = []
        for name, message, check in self.invariants:
            try:
                holds = bool(check(session.state))
            except Exception as exc:  # a crashing check is a violation, reported with its cause
                violations.append({"name": name, "message": f"{message} (check raised {exc!r})"})
                continue
            if not holds:
                violations.append({"name": name, "message": message})
        return violations

    # calls -------------------------------------------------------------------
    def call(self, session: Session, name: str, arguments: Mapping[str, Any] | None) -> types.CallToolResult:
        """Run one tool call on `session` and return its MCP result; never raises for tool failures."""
        tool = self.tools.get(name)
        if tool is None:
            return _error_result(f"Unknown tool: {name}", ERROR_META_KEY, {"code": "unknown_tool"})
        try:
            validated = tool.arguments.model_validate(arguments or {})
        except pydantic.ValidationError as exc:
            message, fields = _describe_validation_error(name, exc)
            return _error_result(message, ERROR_META_KEY, {"code": "invalid_arguments", "fields": fields})
        kwargs = dict(validated.__dict__)
        for injected in tool.injected:
            kwargs[injected] = session.state if injected == "state" else session.rng
        session.writable = tool.effect == "write"
        try:
            value = tool.func(**kwargs)
            text = _text(value)  # inside the boundary: a result that is not JSON is a bug of the body
            # Two phases, so that one invalid record in any collection discards every write of the call.
            prepared = [
                (collection, collection._prepare(functools.partial(self._validate_record, collection._name)))
                for collection in session.touched
            ]
            for collection, writes in prepared:
                collection._apply(writes)
        except ToolError as exc:
            self._rollback(session)
            template = tool.errors.get(exc.code)
            if template is None:
                return self._fault(name, exc, f"undeclared error code {exc.code!r}")
            try:
                message = template.format_map(exc.fields)
            except (KeyError, IndexError, ValueError) as format_error:
                return self._fault(name, format_error, f"error template {exc.code!r} could not be filled")
            return _error_result(message, ERROR_META_KEY, {"code": exc.code})
        except Exception as exc:  # boundary: any other failure is a bug of the environment, masked for the model
            self._rollback(session)
            return self._fault(name, exc, "tool body raised")
        finally:
            session.touched.clear()
            session.writable = False
        structured = {"result": value} if tool.wraps_result else value
        return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured)

    @staticmethod
    def _rollback(session: Session) -> None:
        for collection in session.touched:
            collection._rollback()

    def _fault(self, tool: str, exc: BaseException, what: str) -> types.CallToolResult:
        fault_id = f"{self.name}-{next(self._faults):06d}"
        logger.error("environment fault %s in tool %s: %s", fault_id, tool, what, exc_info=exc)
        return _error_result(
            f"Internal error in the environment (fault {fault_id}).",
            FAULT_META_KEY,
            {"kind": "env_fault", "id": fault_id, "tool": tool},
        )

    # MCP -------------------------------------------------------------------------
    def build(
        self,
        *,
        control: bool = False,
        control_secret: str | None = None,
        process_session: bool = False,
        max_keyed_sessions: int = 100_000,
    ) -> Server:
        """Return an MCP server for this environment.

        With `control`, the hidden control-plane tools answer (and, when
        `control_secret` is set, only to calls carrying it). With
        `process_session`, sessionless (2026-era) requests share one
        process-wide session, as suits stdio. At most `max_keyed_sessions`
        explicitly keyed sessions are kept; the least recently used goes first.
        """
        listed = types.ListToolsResult(tools=[tool.mcp_tool for tool in self.tools.values()])
        # Explicitly keyed sessions, least recently used first; bounded so abandoned keys cannot exhaust memory.
        sessions_by_key: OrderedDict[str, Session] = OrderedDict()

        def resolve(ctx: Any, meta: Mapping[str, Any] | None) -> Session:
            key = (meta or {}).get(SESSION_META_KEY)
            if isinstance(key, str):
                session = sessions_by_key.get(key)
                if session is None:
                    session = sessions_by_key[key] = self.new_session()
                    if len(sessions_by_key) > max_keyed_sessions:
                        sessions_by_key.popitem(last=False)
                else:
                    sessions_by_key.move_to_end(key)
                return session
            if ctx.protocol_version.startswith(_MODERN_ERA):
                if process_session:
                    if self._process_session is None:
                        self._process_session = self.new_session()
                    return self._process_session
                return self.new_session()
            # Handshake era: the connection is the session. The SDK keeps no public
            # accessor for it, hence the private attribute (covered by the tests).
            connection = ctx.session._connection
            session = connection.state.get("mcpfactory.session")
            if session is None:
                session = connection.state["mcpfactory.session"] = self.new_session()
            return session

        def replace(ctx: Any, meta: Mapping[str, Any] | None, session: Session | None) -> None:
            """Install `session` as the caller's session; None forgets it (the next call starts afresh)."""
            key = (meta or {}).get(SESSION_META_KEY)
            if isinstance(key, str):
                if session is None:
                    sessions_by_key.pop(key, None)
                else:
                    sessions_by_key[key] = session
            elif ctx.protocol_version.startswith(_MODERN_ERA):
                if process_session:
                    self._process_session = session
            elif session is None:
                ctx.session._connection.state.pop("mcpfactory.session", None)
            else:
                ctx.session._connection.state["mcpfactory.session"] = session

        async def on_list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
            return listed

        async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            meta = params.meta
            if params.name in CONTROL_TOOLS and control:
                supplied = (meta or {}).get(CONTROL_SECRET_META_KEY)
                if control_secret is not None and not (
                    isinstance(supplied, str) and hmac.compare_digest(supplied, control_secret)
                ):
                    return _error_result(
                        "Control call refused: bad or missing secret.", ERROR_META_KEY, {"code": "forbidden"}
                    )
                return self._control(
                    params.name, params.arguments or {}, resolve(ctx, meta), lambda s: replace(ctx, meta, s)
                )
            if params.name not in self.tools:
                # The MCP spec answers an unknown tool with a protocol error, not a tool result.
                raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
            return self.call(resolve(ctx, meta), params.name, params.arguments)

        return Server(
            self.name,
            version=self.version,
            description=self.description,
            instructions=self.instructions,
            on_list_tools=on_list_tools,
            on_call_tool=on_call_tool,
        )

    def _control(
        self, name: str, arguments: Mapping[str, Any], session: Session, replace: Callable[[Session | None], None]
    ) -> types.CallToolResult:
        try:
            if name == "_control_reset":
                seed = arguments.get("seed")
                if seed is not None and not isinstance(seed, int):
                    raise ValueError("seed must be an integer")
                if arguments.get("state") is not None:
                    session = self.session_from_state(arguments["state"], seed)
                else:
                    patch = arguments.get("patch") or {}
                    for coll, records in patch.items():
                        if coll not in self._validators:
                            raise ValueError(f"unknown collection {coll!r}")
                        for key, record in records.items():
                            if record is not None:
                                self._validate_record(coll, key, record)
                    session = self.new_session(seed, patch)
                replace(session)
                # Hashing reads the whole state: only on request, so a reset stays O(patch).
                result: dict[str, Any] = {"reset": True}
                if arguments.get("hash"):
                    result["state_sha256"] = self.state_sha256(session)
            elif name == "_control_snapshot":
                result = {"state": session.snapshot(arguments.get("scope", "full"))}
            elif name == "_control_close":
                replace(None)
                result = {"closed": True}
            elif name == "_control_state_hash":
                result = {"state_sha256": self.state_sha256(session)}
            else:
                result = {"violations": self.check_invariants(session)}
        except (ValueError, TypeError, KeyError, pydantic.ValidationError) as exc:
            return _error_result(f"Control call {name} failed: {exc}", ERROR_META_KEY, {"code": "invalid_arguments"})
        # Text only: a structured result for an unlisted tool would make clients warn that they cannot validate it.
        return types.CallToolResult(content=[types.TextContent(text=_text(result))])

    # entry point -----------------------------------------------------------------
    def main(self, argv: list[str] | None = None) -> None:
        """Serve over stdio (default) or streamable HTTP; the `python -m servers.<env>` entry point."""
        parser = argparse.ArgumentParser(prog=f"python -m servers.{self.name}", description=self.description)
        parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
        parser.add_argument("--host", default="127.0.0.1", help="HTTP host (default: loopback)")
        parser.add_argument("--port", type=int, default=8000, help="HTTP port (default: 8000)")
        parser.add_argument("--control", action="store_true", help="enable the harness control plane")
        parser.add_argument("--control-secret", help=f"secret for control calls over HTTP (or ${_CONTROL_SECRET_ENV})")
        parser.add_argument("--log-level", default="WARNING", help="logging level on stderr")
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )
        secret = args.control_secret or os.environ.get(_CONTROL_SECRET_ENV)
        # Load the seed now, then move it (and everything imported) out of the collector's reach: with
        # thousands of live sessions, full collections walking the frozen seed dominated a call's cost.
        self.seed_state()
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
        if args.http:
            if args.control and not secret:
                parser.error("--control over HTTP needs --control-secret or $" + _CONTROL_SECRET_ENV)
            import anyio
            import uvicorn  # a dependency of mcp itself

            server = self.build(control=args.control, control_secret=secret if args.control else None)
            app = server.streamable_http_app(host=args.host)
            config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level.lower())
            anyio.run(uvicorn.Server(config).serve)
        else:
            import anyio
            from mcp.server.stdio import stdio_server

            server = self.build(control=args.control, process_session=True)

            async def serve() -> None:
                async with stdio_server() as (read, write):
                    await server.run(read, write, server.create_initialization_options())

            anyio.run(serve)


def load_json_seed(directory: Path, files: Mapping[str, str], key_fields: Mapping[str, str | None]) -> dict[str, Any]:
    """Load seed files `{collection: relative path}`; a list of records is keyed by its key field."""
    state: dict[str, Any] = {}
    for collection, relative in files.items():
        data = json.loads((directory / relative).read_text(encoding="utf-8"))
        if isinstance(data, list):
            key_field = key_fields[collection]
            data = {record[key_field]: record for record in data}
        state[collection] = data
    return state
