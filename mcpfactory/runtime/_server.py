"""Sessions and the control plane: an `Environment` served as an MCP server.

Whose state does a request act on?

- A request whose `_meta["io.mcpfactory/session"]` is `"new"` opens a keyed
  session; the result's `_meta` carries its key, a capability the server
  issued (an unguessable, signed token). A request carrying that key acts on
  that session (a bounded table; the harness runs thousands of episodes over
  one client this way). A key the server did not issue, or one whose session
  is gone, is refused.
- Otherwise, on a handshake-era connection, the connection is the session.
- Otherwise (a sessionless 2026-era request): over stdio, the process's one
  session; elsewhere a read is served from a fresh session and a write is
  refused with an error that says how to keep a session, never silently lost.

The control plane (`_control_*`, `mcpfactory.runtime.CONTROL_TOOLS`) is never
listed; it answers only when the server was built with `control=True`, and
then, when a secret is set, only to calls carrying it. Otherwise a control
call gets the same answer as any unknown tool.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import mcp_types as types
import pydantic
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError

from ._calls import error_result, text_of
from ._protocol import (
    CONTROL_CLOSE,
    CONTROL_INVARIANTS,
    CONTROL_RESET,
    CONTROL_SECRET_META_KEY,
    CONTROL_SNAPSHOT,
    CONTROL_STATE_HASH,
    CONTROL_TOOLS,
    CONTROL_VIEW,
    ERROR_META_KEY,
    NEW_SESSION,
    SESSION_META_KEY,
)
from ._state import Session

if TYPE_CHECKING:
    from ._environment import Environment

__all__ = ["SessionRefused", "build_server"]

_MODERN_ERA = "2026-"
_CONNECTION_STATE_KEY = "mcpfactory.session"

Context = ServerRequestContext[Any, Any]


class SessionRefused(Exception):
    """A request names no usable session: a forged or expired key, or a write with no session at all."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


_NO_SESSION = (
    "This server keeps state per session, and this request has none: a write here would be lost. "
    f'Send _meta["{SESSION_META_KEY}"] = "{NEW_SESSION}" to open one (the result\'s _meta carries its key; '
    "send it with every later request), or connect with a handshake-era client, whose connection is its session."
)


class _Sessions:
    """Find the session a request acts on, and replace it (a reset) or forget it (a close).

    Explicit session keys are capabilities this server issues: a request with
    `_meta["io.mcpfactory/session"] = "new"` opens a session and gets its key
    back in the result's `_meta`; the key is an unguessable token signed with a
    secret that never leaves the process, so knowing or guessing another
    client's name gives nothing. A key this server did not issue is refused; so
    is a key whose session was evicted (the table is bounded), rather than
    silently starting over.
    """

    def __init__(self, env: Environment, *, process_session: bool, max_keyed: int) -> None:
        self.env = env
        self.process_session = process_session
        self.max_keyed = max_keyed
        self._secret = secrets.token_bytes(32)
        # Keyed sessions, least recently used first; bounded so abandoned keys cannot exhaust memory.
        self.by_key: OrderedDict[str, Session] = OrderedDict()
        self.process: Session | None = None

    def issue(self) -> str:
        token = secrets.token_urlsafe(18)
        return f"{token}.{self._sign(token)}"

    def _sign(self, token: str) -> str:
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()[:32]

    def _valid(self, key: str) -> bool:
        token, _, signature = key.rpartition(".")
        return bool(token) and hmac.compare_digest(signature, self._sign(token))

    def resolve(self, ctx: Context, meta: Mapping[str, Any] | None, *, writes: bool) -> tuple[Session, str | None]:
        """The caller's session, and the key of a session opened by this request (None if none was)."""
        key = (meta or {}).get(SESSION_META_KEY)
        if key == NEW_SESSION:
            key = self.issue()
            self.by_key[key] = self.env.new_session()
            if len(self.by_key) > self.max_keyed:
                self.by_key.popitem(last=False)
            return self.by_key[key], key
        if isinstance(key, str):
            if not self._valid(key):
                raise SessionRefused("bad_session", f"Session key refused: this server did not issue it. {_NO_SESSION}")
            session = self.by_key.get(key)
            if session is None:
                raise SessionRefused("expired_session", f"Session expired (or closed). {_NO_SESSION}")
            self.by_key.move_to_end(key)
            return session, None
        if key is not None:
            raise SessionRefused("bad_session", f"A session key is a string. {_NO_SESSION}")
        if ctx.protocol_version.startswith(_MODERN_ERA):
            if self.process_session:
                if self.process is None:
                    self.process = self.env.new_session()
                return self.process, None
            if writes:
                raise SessionRefused("no_session", _NO_SESSION)
            return self.env.new_session(), None
        # Handshake era: the connection is the session. The SDK keeps no public
        # accessor for it from a request context, hence the private attribute
        # (typed, so a rename fails the type check; covered by the tests).
        state = ctx.session._connection.state
        session = state.get(_CONNECTION_STATE_KEY)
        if not isinstance(session, Session):
            session = state[_CONNECTION_STATE_KEY] = self.env.new_session()
        return session, None

    def replace(self, ctx: Context, key: str | None, session: Session | None) -> None:
        """Install `session` as the caller's session; None forgets it (its key stops working)."""
        if key is not None:
            if session is None:
                self.by_key.pop(key, None)
            else:
                self.by_key[key] = session
        elif ctx.protocol_version.startswith(_MODERN_ERA):
            if self.process_session:
                self.process = session
        elif session is None:
            ctx.session._connection.state.pop(_CONNECTION_STATE_KEY, None)
        else:
            ctx.session._connection.state[_CONNECTION_STATE_KEY] = session


def build_server(
    env: Environment,
    *,
    control: bool = False,
    control_secret: str | None = None,
    process_session: bool = False,
    max_keyed_sessions: int = 100_000,
) -> Server[Any]:
    """Return an MCP server for `env`.

    With `control`, the hidden control-plane tools answer (and, when
    `control_secret` is set, only to calls carrying it). With
    `process_session`, sessionless (2026-era) requests share one
    process-wide session, as suits stdio. At most `max_keyed_sessions`
    explicitly keyed sessions are kept; the least recently used goes first.
    """
    listed = types.ListToolsResult(tools=[tool.mcp_tool for tool in env.tools.values()])
    sessions = _Sessions(env, process_session=process_session, max_keyed=max_keyed_sessions)

    async def on_list_tools(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return listed

    async def on_call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        meta = params.meta
        is_control = control and params.name in CONTROL_TOOLS
        if not is_control and params.name not in env.tools:
            # One answer for every unknown name, control tools included when control is off or refused:
            # the MCP spec answers an unknown tool with a protocol error, not a tool result.
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        if is_control and control_secret is not None:
            supplied = (meta or {}).get(CONTROL_SECRET_META_KEY)
            if not (isinstance(supplied, str) and hmac.compare_digest(supplied, control_secret)):
                raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        writes = is_control or env.tools[params.name].effect == "write"
        try:
            session, opened = sessions.resolve(ctx, meta, writes=writes)
        except SessionRefused as exc:
            return error_result(str(exc), ERROR_META_KEY, {"code": exc.code})
        key = opened if opened is not None else (meta or {}).get(SESSION_META_KEY)
        if is_control:
            result = _control(
                env,
                params.name,
                params.arguments or {},
                session,
                lambda replacement: sessions.replace(ctx, key if isinstance(key, str) else None, replacement),
            )
        else:
            result = env.call(session, params.name, params.arguments)
        if opened is not None:
            result.meta = {**(result.meta or {}), SESSION_META_KEY: opened}
        return result

    return Server(
        env.name,
        version=env.version,
        description=env.description,
        instructions=env.instructions,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


def _control(
    env: Environment,
    name: str,
    arguments: Mapping[str, Any],
    session: Session,
    replace: Callable[[Session | None], None],
) -> types.CallToolResult:
    result: dict[str, Any]
    try:
        if name == CONTROL_RESET:
            result = _reset(env, arguments, replace)
        elif name == CONTROL_SNAPSHOT:
            scope = arguments.get("scope", "full")
            if scope not in ("full", "changes"):
                raise ValueError(f"scope must be 'full' or 'changes', not {scope!r}")
            result = {"state": session.snapshot(scope)}
        elif name == CONTROL_CLOSE:
            replace(None)
            result = {"closed": True}
        elif name == CONTROL_STATE_HASH:
            result = {"state_sha256": env.state_sha256(session)}
        elif name == CONTROL_VIEW:
            view = arguments.get("name")
            if not isinstance(view, str):
                raise ValueError("name must be the name of a view")
            result = {"view": env.render_view(view, session)}
        else:
            assert name == CONTROL_INVARIANTS
            result = {"violations": env.check_invariants(session)}
    except (ValueError, TypeError, LookupError, pydantic.ValidationError) as exc:
        return error_result(f"Control call {name} failed: {exc}", ERROR_META_KEY, {"code": "invalid_arguments"})
    except Exception as exc:  # a scenario or view body that crashes is a bug of the environment
        return env.fault(name, exc, "control body raised")
    # Text only: a structured result for an unlisted tool would make clients warn that they cannot validate it.
    return types.CallToolResult(content=[types.TextContent(text=text_of(result))])


def _reset(env: Environment, arguments: Mapping[str, Any], replace: Callable[[Session | None], None]) -> dict[str, Any]:
    allowed = ("seed", "state", "patch", "scenario", "hash", "principal", "scopes", "clock")
    unknown = sorted(set(arguments) - set(allowed))
    if unknown:
        raise ValueError(f"unknown argument(s) {', '.join(unknown)} ({', '.join(allowed)})")
    seed = arguments.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError("seed must be an integer")
    starts = [name for name in ("state", "patch", "scenario") if arguments.get(name) is not None]
    if len(starts) > 1:
        raise ValueError(f"give at most one of state, patch and scenario (got {', '.join(starts)})")
    if arguments.get("state") is not None:
        session = env.session_from_state(_mapping(arguments["state"], "state"), seed)
    elif arguments.get("scenario") is not None:
        session = env.session_from_scenario(_mapping(arguments["scenario"], "scenario"), seed)
    else:
        session = env.new_session(seed, _mapping(arguments.get("patch") or {}, "patch"))
    caller = {name: arguments[name] for name in ("principal", "scopes", "clock") if name in arguments}
    if caller:
        env.start_as(session, **caller)
    replace(session)
    # Hashing reads the whole state: only on request, so a reset stays O(patch).
    result: dict[str, Any] = {"reset": True}
    if arguments.get("hash"):
        result["state_sha256"] = env.state_sha256(session)
    return result


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be an object")
    return value
