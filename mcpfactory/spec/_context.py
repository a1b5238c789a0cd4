"""A call's context in a spec: who calls (`auth:`, tools' `scopes:`) and when (`time: session`).

With `auth:`, bodies read `principal()` and `scopes()`, every tool may raise
`unauthenticated` and `forbidden`, and a tool's `scopes:` are checked before its
body runs. With `time: session`, `now()` reads the session's clock and write
tools move it with `advance(...)`. The names these add to bodies are taken:
no parameter, helper or tool may be called by one of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pydantic

from mcpfactory.runtime import AUTH_ERRORS
from mcpfactory.spec._model import EnvSpec
from mcpfactory.spec._types import TypeExpr, TypeSyntaxError, parse_type

__all__ = ["AUTH_NAMES", "TIME_NAMES", "ResolvedAuth", "body_names", "check_context"]

AUTH_NAMES = frozenset({"principal", "scopes"})
TIME_NAMES = frozenset({"advance"})
Loc = tuple[str | int, ...]
Report = Callable[[Loc, str, str | None], None]


@dataclass(frozen=True, slots=True)
class ResolvedAuth:
    """The spec's `auth:`, checked: the principal's type, the scopes, and a new session's caller."""

    principal: TypeExpr
    scopes: tuple[str, ...]
    default: dict[str, Any] | None
    default_scopes: tuple[str, ...]
    tool_scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tools that declare scopes


def body_names(spec: EnvSpec) -> frozenset[str]:
    """The names auth and time add to what bodies may call."""
    return (AUTH_NAMES if spec.auth is not None else frozenset()) | (
        TIME_NAMES if spec.time == "session" else frozenset()
    )


def _suggest(word: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def check_context(
    spec: EnvSpec, known: set[str], python_types: dict[str, Any], to_python: Callable[[TypeExpr], Any], report: Report
) -> ResolvedAuth | None:
    """Check `auth:`, tools' `scopes:` and the names auth and time take; return the auth, if any."""
    taken = body_names(spec)
    for owner, params in (
        *((("tools", n), t.params) for n, t in spec.tools.items()),
        *((("helpers", n), h.params) for n, h in spec.helpers.items()),
        *([(("scenario",), spec.scenario.params)] if spec.scenario is not None else []),
    ):
        for name in params:
            if name in taken:
                report((*owner, "params", name), f"parameter name '{name}' is taken by the body's {name}()", None)
    for kind, names in (("tools", spec.tools), ("helpers", spec.helpers)):
        for name in names:
            if name in taken:
                report((kind, name), f"'{name}' is taken by the body's {name}(); choose another name", None)
    auth = spec.auth
    if auth is None:
        for name, tool in spec.tools.items():
            if tool.scopes is not None:
                report(
                    ("tools", name, "scopes"), "scopes need an `auth:` section (who calls, and what scopes exist)", None
                )
        return None
    try:
        principal = parse_type(auth.principal, known, set())
    except TypeSyntaxError as exc:
        report(("auth", "principal"), exc.message, exc.hint)
        return None
    if principal.kind != "named":
        report(("auth", "principal"), "the principal is a named object type (from types: or a record)", None)
        return None
    if auth.default is not None:
        try:
            pydantic.TypeAdapter(to_python(principal)).validate_python(auth.default, strict=True)
        except pydantic.ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            report(
                ("auth", "default"), f"the default principal is not a {auth.principal}: {where}: {first['msg']}", None
            )
    for index, scope in enumerate(auth.scopes):
        if not scope or scope != scope.strip() or " " in scope:
            report(("auth", "scopes", index), f"scope {scope!r} is not a name (no spaces)", None)
        elif auth.scopes.index(scope) != index:
            report(("auth", "scopes", index), f"scope '{scope}' is listed twice", None)
    default_scopes = auth.scopes if auth.default_scopes is None else auth.default_scopes
    for index, scope in enumerate(auth.default_scopes or []):
        if scope not in auth.scopes:
            report(("auth", "default_scopes", index), f"unknown scope '{scope}'", _suggest(scope, auth.scopes))
    tool_scopes: dict[str, tuple[str, ...]] = {}
    for name, tool in spec.tools.items():
        for code in AUTH_ERRORS:
            if code in tool.errors:
                report(
                    ("tools", name, "errors", code),
                    f"error '{code}' is auth's own: every tool of an environment with auth has it",
                    "raise it without declaring it, or give your error another code",
                )
        if tool.scopes is None:
            continue
        for index, scope in enumerate(tool.scopes):
            if scope not in auth.scopes:
                report(("tools", name, "scopes", index), f"unknown scope '{scope}'", _suggest(scope, auth.scopes))
        tool_scopes[name] = tuple(tool.scopes)
    return ResolvedAuth(principal, tuple(auth.scopes), auth.default, tuple(default_scopes), tool_scopes)
