"""Wire constants: the `_meta` keys and control-plane tool names every side of the protocol uses.

Servers, the harness, the verifier, synthesis and the tests import these
names; none of them spells the strings itself.
"""

from __future__ import annotations

__all__ = [
    "API_VERSION",
    "CONTROL_CLOSE",
    "CONTROL_INVARIANTS",
    "CONTROL_PREFIX",
    "CONTROL_RESET",
    "CONTROL_SECRET_ENV",
    "CONTROL_SECRET_META_KEY",
    "CONTROL_SNAPSHOT",
    "CONTROL_STATE_HASH",
    "CONTROL_TOOLS",
    "CONTROL_VIEW",
    "ERROR_META_KEY",
    "FAULT_META_KEY",
    "FORBIDDEN",
    "INVALID_CURSOR",
    "NEW_SESSION",
    "REFS_META_KEY",
    "RETURNED_ERROR",
    "SESSION_META_KEY",
    "UNAUTHENTICATED",
    "check_api_version",
]

API_VERSION = (1, 2)
"""The runtime API generated servers are written against: (major, minor).

1.1 added `render` and `error_when` to `Environment.tool`; 1.2 added integer
and composite keys (`KeyedCollection`, `Environment(keys=...)`), pages
(`Environment.tool(page=...)`), auth (`Environment(auth=...)`,
`Environment.tool(scopes=...)`) and the per-session clock.

A generated server records the version it was compiled for and checks it at
import (`check_api_version`): the majors must be equal and the runtime's minor
at least the server's.
"""

SESSION_META_KEY = "io.mcpfactory/session"
"""`_meta` key carrying a session key the server issued (docs/server.md), or `NEW_SESSION` to ask for one."""

NEW_SESSION = "new"
"""The value of `SESSION_META_KEY` that opens a session; its key comes back in the result's `_meta`."""

CONTROL_SECRET_META_KEY = "io.mcpfactory/control-secret"
"""`_meta` key carrying the control-plane secret over HTTP."""

ERROR_META_KEY = "io.mcpfactory/error"
"""Result `_meta` key of a refused call: `{"code": ...}` (a domain error, invalid arguments)."""

RETURNED_ERROR = "returned_error"
"""Error code of a result whose returned value the tool's `error_when` marks as an error (its writes are kept)."""

UNAUTHENTICATED = "unauthenticated"
"""Error code of a call refused because the session has no principal (HTTP's 401); docs/spec.md "Auth"."""

FORBIDDEN = "forbidden"
"""Error code of a call refused because the caller lacks a scope it needs (HTTP's 403); docs/spec.md "Auth"."""

INVALID_CURSOR = "invalid_cursor"
"""Error code of a paged call given a cursor that no page of the tool handed out; docs/spec.md "Pages"."""

FAULT_META_KEY = "io.mcpfactory/fault"
"""Result `_meta` key of an environment fault: `{"kind": "env_fault", "id": ..., "tool": ...}`."""

REFS_META_KEY = "io.mcpfactory/refs"
"""A listed tool's `_meta` key mapping each parameter that names a record to its collection.

It lives in `_meta`, not in the input schema, so strict JSON Schema validators
(ajv's default) and model providers see only standard keywords."""

CONTROL_SECRET_ENV = "MCPFACTORY_CONTROL_SECRET"
"""Environment variable a server reads its control secret from."""

CONTROL_PREFIX = "_control_"
CONTROL_RESET = "_control_reset"
CONTROL_SNAPSHOT = "_control_snapshot"
CONTROL_STATE_HASH = "_control_state_hash"
CONTROL_INVARIANTS = "_control_invariants"
CONTROL_CLOSE = "_control_close"
CONTROL_VIEW = "_control_view"

CONTROL_TOOLS = (
    CONTROL_RESET,
    CONTROL_SNAPSHOT,
    CONTROL_STATE_HASH,
    CONTROL_INVARIANTS,
    CONTROL_CLOSE,
    CONTROL_VIEW,
)
"""Every control-plane tool: never listed, answered only by servers started for a harness."""


def check_api_version(major: int, minor: int, module: str) -> None:
    """Raise `RuntimeVersionError` unless this runtime serves a server compiled for API `major.minor`.

    Generated servers call this at import, as protobuf's generated modules
    validate their runtime: a server compiled by a newer mcpfactory fails with
    a message saying what to do, not with an obscure error on its first call.
    """
    from ._errors import RuntimeVersionError

    have_major, have_minor = API_VERSION
    if major != have_major or minor > have_minor:
        raise RuntimeVersionError(
            f"{module} was compiled for mcpfactory runtime API {major}.{minor}, but the installed runtime "
            f"provides {have_major}.{have_minor}; install a matching mcpfactory or recompile the server "
            f"(mcpfactory compile)"
        )
