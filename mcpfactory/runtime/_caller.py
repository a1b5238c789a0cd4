"""Who is calling and when: the session's principal and scopes, and its clock, as bodies read them.

A body reads the call's session through functions, not parameters, so that
helpers, invariants and views read the same values: `principal()`, `scopes()`
and `now()` in a generated server call `session_principal`, `session_scopes`
and `session_now`, and `advance(...)` moves the session's clock. The session a
call acts on is set for the duration of the call (`acting_on`), in a context
variable: calls run inline, one at a time per thread, and never await.

Auth (docs/spec.md "Auth"): a tool that declares `scopes` is refused before its
body runs, with the domain error `unauthenticated` when the session has no
principal (HTTP's 401) and `forbidden` when a scope is missing (HTTP's 403).

Time (docs/spec.md "Time"): where the spec's time is per session, each session's
clock starts at the spec's `clock` (or the one a reset gives) and moves only
when a write tool calls `advance`; a call that fails leaves it where it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pydantic

from ._protocol import FORBIDDEN, UNAUTHENTICATED
from ._state import Session
from ._values import ReadOnlyError, freeze, thaw

__all__ = [
    "AUTH_ERRORS",
    "Auth",
    "acting_on",
    "advance",
    "parse_clock",
    "session_now",
    "session_principal",
    "session_scopes",
]

AUTH_ERRORS: Mapping[str, str] = {
    UNAUTHENTICATED: "Authentication required: this call needs a signed-in caller.",
    FORBIDDEN: "Forbidden: {reason}",
}
"""The domain errors of auth, by code, with their message templates; every tool of an environment with auth has them."""

_CURRENT: ContextVar[Session | None] = ContextVar("mcpfactory_session", default=None)


@contextlib.contextmanager
def acting_on(session: Session) -> Iterator[None]:
    """Make `session` the one `principal()`, `scopes()`, `now()` and `advance()` read while the block runs."""
    token = _CURRENT.set(session)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def _current(what: str) -> Session:
    session = _CURRENT.get()
    if session is None:
        raise RuntimeError(f"{what} is only available while a call runs")
    return session


def session_principal() -> Any:
    """The caller of the current call (a read-only object), or None for an anonymous caller."""
    return _current("principal()").principal


def session_scopes() -> frozenset[str]:
    """The scopes granted to the caller of the current call."""
    scopes: frozenset[str] = _current("scopes()").scopes
    return scopes


def session_now(fixed: datetime) -> datetime:
    """The current call's clock, with what the call has moved it by; `fixed` outside a call."""
    session = _CURRENT.get()
    if session is None:
        return fixed
    return session.pending_clock or session.clock


def advance(
    delta: timedelta | None = None, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
) -> datetime:
    """Move the session's clock forward (a write: only write tools may) and return the new time.

    Raises `ValueError` for a step backwards: time in an environment only goes on.
    """
    session = _current("advance()")
    if not session.writable:
        raise ReadOnlyError("a read tool tried to move the clock")
    step = (delta or timedelta()) + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if step < timedelta():
        raise ValueError(f"the clock only moves forward (asked to move by {step})")
    session.pending_clock = (session.pending_clock or session.clock) + step
    return session.pending_clock


def parse_clock(value: Any) -> datetime:
    """A clock given on the control plane: an ISO 8601 datetime, as the spec's `clock` is written."""
    if not isinstance(value, str):
        raise ValueError("clock must be an ISO 8601 datetime string, e.g. '2024-05-15T10:00:00'")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"clock {value!r} is not an ISO 8601 datetime, e.g. '2024-05-15T10:00:00'") from None


@dataclass(frozen=True)
class Auth:
    """What an environment knows about callers: the principal's type, the scopes, and a new session's caller.

    `principal` is the principal's type (a TypedDict of the spec); `default` the
    principal of a new session (None: anonymous); `scopes` every scope the
    environment knows; `default_scopes` those a new session's principal holds.
    """

    principal: Any
    scopes: tuple[str, ...] = ()
    default: Mapping[str, Any] | None = None
    default_scopes: tuple[str, ...] = ()
    _adapter: pydantic.TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_adapter", pydantic.TypeAdapter(self.principal))

    def check_principal(self, value: Any) -> Any:
        """The principal `value` as a session holds it (read-only); raise `ValueError` if it is not one."""
        if value is None:
            return None
        try:
            self._adapter.validate_python(thaw(value), strict=True)
        except pydantic.ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(
                f"principal is not a valid caller: {where + ': ' if where else ''}{first['msg']}"
            ) from None
        return freeze(thaw(value))

    def check_scopes(self, value: Any) -> frozenset[str]:
        """Scopes given on the control plane; raise `ValueError` for anything but a list of known scopes."""
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise ValueError("scopes must be a list of strings")
        unknown = sorted(set(value) - set(self.scopes))
        if unknown:
            known = ", ".join(self.scopes) or "none"
            raise ValueError(f"unknown scope(s) {', '.join(map(repr, unknown))} (this environment knows: {known})")
        return frozenset(value)


def missing_scope(session: Session, required: Iterable[str]) -> tuple[str, dict[str, Any]] | None:
    """Why the session's caller may not make a call that needs `required` scopes (code and fields), or None."""
    if session.principal is None:
        return UNAUTHENTICATED, {}
    for scope in required:
        if scope not in session.scopes:
            return FORBIDDEN, {"reason": f"this call needs the scope '{scope}'"}
    return None
