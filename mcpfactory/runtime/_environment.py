"""The environment: what a generated server declares (state layout, tools, invariants, scenarios, views).

A generated `server.py` builds one `Environment`, registers its bodies with
the decorators below, and hands it to the MCP layer (`build`) or to the
command line (`main`). Everything here is transport-free: tests and the
verifier drive `call` on a `Session` directly.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import mcp_types as types
import pydantic

from ._bounds import CallLimits, Watchdog
from ._caller import AUTH_ERRORS, Auth, acting_on, parse_clock
from ._calls import error_result, fault_result, run_call
from ._keys import KeyKind, key_to_wire, key_to_wire_or_none
from ._pages import Paging
from ._protocol import ERROR_META_KEY
from ._state import Session, StateBase
from ._tools import INJECTED, Effect, Render, ToolDef, tool_def
from ._values import FrozenDict, canonical_json, freeze, thaw

if TYPE_CHECKING:
    from mcp.server.lowlevel.server import Server

__all__ = ["Environment", "Scenario"]

_F = TypeVar("_F", bound=Callable[..., Any])
_UNSET: Any = object()


class Scenario:
    """A typed parameter object and a body that builds a whole initial state from it."""

    def __init__(self, func: Callable[..., Mapping[str, Mapping[str, Any]]]) -> None:
        hints = typing.get_type_hints(func, include_extras=True)
        fields: dict[str, Any] = {}
        self.injected: list[str] = []
        for param in inspect.signature(func).parameters.values():
            if param.name in INJECTED:
                self.injected.append(param.name)
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (hints[param.name], default)
        config = pydantic.ConfigDict(extra="forbid", strict=True)
        self.func = func
        self.arguments = pydantic.create_model("scenario_arguments", __config__=config, **fields)
        self.input_schema = self.arguments.model_json_schema()


class Environment:
    """Everything a generated server declares: metadata, state layout, tools, invariants, scenarios and views."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        description: str,
        instructions: str | None,
        state_class: type[StateBase],
        seed: Callable[[], Mapping[str, Mapping[str, Any]]],
        records: Mapping[str, tuple[str | tuple[str, ...] | None, Any]],
        clock: datetime,
        default_seed: int = 0,
        limits: CallLimits | None = None,
        keys: Mapping[str, KeyKind] | None = None,
        auth: Auth | None = None,
        session_clock: bool = False,
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
        self.limits = limits or CallLimits()
        self.watchdog = Watchdog(self.limits)
        self.scenario_def: Scenario | None = None
        self.views: dict[str, Callable[[Any], Any]] = {}
        self._faults = itertools.count(1)
        # Collections keyed by integers or tuples (the others are keyed by strings); docs/spec.md "Keys".
        self.key_kinds: dict[str, KeyKind] = {c: k for c, k in (keys or {}).items() if k != "str"}
        # Who calls a new session (docs/spec.md "Auth"), and whether now() reads each session's clock ("Time").
        self.auth = auth
        self.default_principal: Any = auth.check_principal(auth.default) if auth is not None else None
        self.default_scopes: frozenset[str] = (
            frozenset(auth.default_scopes) if auth is not None and auth.default is not None else frozenset()
        )
        self.session_clock = session_clock

    def set_limits(self, limits: CallLimits) -> None:
        """Bound every later call by `limits` (CPU seconds and memory growth per call)."""
        self.limits = limits
        self.watchdog = Watchdog(limits)

    # declaration -----------------------------------------------------------
    def tool(
        self,
        *,
        effect: Effect,
        errors: Mapping[str, str] | None = None,
        render: Render = "json",
        error_when: Callable[[Any], bool] | None = None,
        refs: Mapping[str, str] | None = None,
        page: Paging | None = None,
        scopes: tuple[str, ...] | None = None,
    ) -> Callable[[_F], _F]:
        """Register a tool body; its signature and docstring define the MCP tool.

        `render` says how a result becomes its text block; `error_when` marks
        returned values that are errors (both in `mcpfactory.runtime._calls`);
        `refs` maps each parameter that names a record to its collection (listed
        in the tool's `_meta`, for harnesses and the verifier); `page` returns
        the body's list a page at a time (`mcpfactory.runtime._pages`); `scopes`
        are what a caller needs (`mcpfactory.runtime._caller`).
        """

        # With auth, every tool may refuse a caller (from its body, or by its scopes): auth's errors are its own.
        declared = {**AUTH_ERRORS, **(errors or {})} if self.auth is not None else errors or {}

        def register(func: _F) -> _F:
            self.tools[func.__name__] = tool_def(
                func, effect, declared, render=render, error_when=error_when, refs=refs, page=page, scopes=scopes
            )
            return func

        return register

    def invariant(self, name: str, message: str) -> Callable[[Callable[[Any], bool]], Callable[[Any], bool]]:
        """Register a check that must hold on the state after every call."""

        def register(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
            self.invariants.append((name, message, check))
            return check

        return register

    def scenario(self, func: _F) -> _F:
        """Register the body that builds an initial state from a scenario's parameters."""
        self.scenario_def = Scenario(func)
        return func

    def view(self, name: str) -> Callable[[_F], _F]:
        """Register a named read-only projection of the state, served by `_control_view`."""

        def register(func: _F) -> _F:
            self.views[name] = func
            return func

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
        """Start a session from the seed, with `patch` (`{collection: {key: record or None}}`) applied."""
        if patch:
            for coll, records in patch.items():
                if coll not in self._validators:
                    raise ValueError(f"unknown collection {coll!r}")
                if not isinstance(records, Mapping):
                    raise ValueError(f"patch of {coll!r} must map keys to records")
                for key, record in records.items():
                    if record is not None:
                        self.validate_record(coll, key, record)
        return Session(self, seed, patch)

    def session_from_state(self, state: Mapping[str, Mapping[str, Any]], seed: int | None = None) -> Session:
        """Start a session whose state is exactly `state` (collections missing from it are empty)."""
        unknown = sorted(set(state) - set(self._validators))
        if unknown:
            raise ValueError(f"unknown collection(s) {', '.join(map(repr, unknown))}")
        seed_state = self.seed_state()
        patch: dict[str, dict[str, Any]] = {}
        for name, base in seed_state.items():
            given = state.get(name, {})
            changes: dict[str, Any] = {key: None for key in base if key not in given}
            changes.update({key: record for key, record in given.items() if base.get(key) != record})
            patch[name] = changes
        for name, records in patch.items():
            for key, record in records.items():
                if record is not None:
                    self.validate_record(name, key, thaw(record))
        return Session(self, seed, patch)

    def session_from_scenario(self, arguments: Mapping[str, Any], seed: int | None = None) -> Session:
        """Start a session from the state the scenario body builds from `arguments`."""
        scenario = self.scenario_def
        if scenario is None:
            raise ValueError(f"environment {self.name} declares no scenario")
        validated = scenario.arguments.model_validate(dict(arguments))
        kwargs = dict(validated.__dict__)
        probe = Session(self, seed)
        for injected in scenario.injected:
            kwargs[injected] = probe.state if injected == "state" else probe.rng
        with acting_on(probe):
            state = scenario.func(**kwargs)
        session = self.session_from_state(state, seed)
        # The body's generator is the session's: its draws are consumed, and a body may reseed it
        # (`rng.seed(...)`) when the scenario itself fixes the world's randomness.
        session.adopt_rng(probe)
        return session

    def validate_record(self, collection: str, key: str, record: Any) -> None:
        """Raise if `record` is not a valid record of `collection` stored under `key` (its text form)."""
        key_field, adapter = self._validators[collection]
        adapter.validate_python(record, strict=True)
        if key_field is None:
            return
        if isinstance(key_field, tuple):
            value: Any = tuple(record.get(f) for f in key_field)
            if key_to_wire(value) != key:
                fields = ", ".join(key_field)
                raise ValueError(f"{collection}[{key!r}] has ({fields}) = {value!r}, not its key")
            return
        value = record.get(key_field)
        if value != key and key_to_wire_or_none(value) != key:
            raise ValueError(f"{collection}[{key!r}].{key_field} is {value!r}, not its key")

    def start_as(
        self,
        session: Session,
        *,
        principal: Any = _UNSET,
        scopes: Any = None,
        clock: Any = None,
    ) -> None:
        """Give a new session its caller (`principal`, `scopes`) and clock, as a reset or a task asks.

        A principal of None makes the session anonymous; scopes default to the
        spec's `default_scopes` for a principal, none without one. Raises
        `ValueError` naming what is wrong (an environment without auth, a
        principal of the wrong shape, an unknown scope, a clock that is not an
        ISO datetime or one given to an environment whose clock is fixed).
        """
        auth = self.auth
        if principal is not _UNSET or scopes is not None:
            if auth is None:
                raise ValueError(f"environment {self.name} declares no auth, so a session has no principal or scopes")
            if principal is not _UNSET:
                session.principal = auth.check_principal(principal)
                session.scopes = frozenset(auth.default_scopes) if session.principal is not None else frozenset()
            if scopes is not None:
                if session.principal is None:
                    raise ValueError("scopes need a principal: an anonymous session holds none")
                session.scopes = auth.check_scopes(scopes)
        if clock is not None:
            if not self.session_clock:
                raise ValueError(
                    f"environment {self.name} has a fixed clock (the spec's clock); declare `time: session` to set it"
                )
            session.clock = parse_clock(clock)

    def check_invariants(self, session: Session) -> list[dict[str, str]]:
        """Return the invariants `session`'s state violates, each `{name, message}`."""
        violations = []
        for name, message, check in self.invariants:
            try:
                with acting_on(session):
                    holds = bool(check(session.state))
            except Exception as exc:  # a crashing check is a violation, reported with its cause
                violations.append({"name": name, "message": f"{message} (check raised {exc!r})"})
                continue
            if not holds:
                violations.append({"name": name, "message": message})
        return violations

    def render_view(self, name: str, session: Session) -> Any:
        """Return view `name` of `session`'s state; raise `LookupError` for an unknown view."""
        view = self.views.get(name)
        if view is None:
            known = ", ".join(sorted(self.views)) or "none"
            raise LookupError(f"no view {name!r} (views: {known})")
        with acting_on(session):
            return thaw(view(session.state))

    # calls -------------------------------------------------------------------
    def call(self, session: Session, name: str, arguments: Mapping[str, Any] | None) -> types.CallToolResult:
        """Run one tool call on `session` and return its MCP result; never raises for tool failures."""
        tool = self.tools.get(name)
        if tool is None:
            return error_result(f"Unknown tool: {name}", ERROR_META_KEY, {"code": "unknown_tool"})
        return run_call(
            tool, session, arguments, validate_record=self.validate_record, fault=self.fault, watchdog=self.watchdog
        )

    def fault(self, tool: str, exc: BaseException, what: str) -> types.CallToolResult:
        """Log an environment fault in `tool` and return the masked result the client sees."""
        return fault_result(self.name, f"{self.name}-{next(self._faults):06d}", tool, exc, what)

    # MCP -------------------------------------------------------------------------
    def build(
        self,
        *,
        control: bool = False,
        control_secret: str | None = None,
        process_session: bool = False,
        max_keyed_sessions: int = 100_000,
    ) -> Server[Any]:
        """Return an MCP server for this environment (see `mcpfactory.runtime._server.build_server`)."""
        from ._server import build_server

        return build_server(
            self,
            control=control,
            control_secret=control_secret,
            process_session=process_session,
            max_keyed_sessions=max_keyed_sessions,
        )

    def main(self, argv: list[str] | None = None) -> None:
        """Serve over stdio (default) or streamable HTTP; the `python -m servers.<env>` entry point."""
        from ._main import main

        main(self, argv)
