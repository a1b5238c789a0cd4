"""The command line of a generated server: `python -m servers.<env> [--http] [--control] ...`."""

from __future__ import annotations

import argparse
import gc
import locale
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from ._bounds import CallLimits, set_process_memory_limit
from ._protocol import CONTROL_SECRET_ENV

if TYPE_CHECKING:
    from ._environment import Environment

__all__ = ["HEADER_TIMEOUT_S", "IDLE_TIMEOUT_S", "main", "serve", "serve_arguments", "server_arguments"]

HEADER_TIMEOUT_S = 10.0
"""Seconds a connection has to send a request's headers; a half-open or trickling client is cut off."""

IDLE_TIMEOUT_S = 30
"""Seconds an idle keep-alive connection is held open between requests."""


def server_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options every server takes (`mcpfactory serve` shares them)."""
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP host (default: loopback)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default: 8000)")
    parser.add_argument("--control", action="store_true", help="enable the harness control plane")
    parser.add_argument("--control-secret", help=f"secret for control calls over HTTP (or ${CONTROL_SECRET_ENV})")
    parser.add_argument("--log-level", default="WARNING", help="logging level on stderr (default: WARNING)")
    parser.add_argument("--call-cpu-s", type=float, help="CPU seconds one tool call may use (default: the spec's)")
    parser.add_argument("--call-memory-mb", type=float, help="memory one tool call may grow (default: the spec's)")
    parser.add_argument(
        "--max-memory-mb", type=float, default=4096, help="address space of the whole server (default: 4096; 0: none)"
    )
    parser.add_argument(
        "--header-timeout", type=float, default=HEADER_TIMEOUT_S, help="HTTP: seconds to send a request's headers"
    )
    parser.add_argument(
        "--idle-timeout", type=int, default=IDLE_TIMEOUT_S, help="HTTP: seconds an idle connection is kept"
    )


def main(env: Environment, argv: list[str] | None = None) -> None:
    """Serve `env` over stdio (default) or streamable HTTP."""
    parser = argparse.ArgumentParser(prog=f"python -m servers.{env.name}", description=env.description)
    server_arguments(parser)
    serve_arguments(env, parser.parse_args(argv), error=parser.error)


def serve_arguments(env: Environment, args: argparse.Namespace, error: object = None) -> None:
    """Serve `env` as the options of `server_arguments` say (a server's own command line, `mcpfactory serve`)."""
    serve(
        env,
        http=args.http,
        host=args.host,
        port=args.port,
        control=args.control,
        control_secret=args.control_secret,
        log_level=args.log_level,
        call_cpu_s=args.call_cpu_s,
        call_memory_mb=args.call_memory_mb,
        max_memory_mb=args.max_memory_mb,
        header_timeout=args.header_timeout,
        idle_timeout=args.idle_timeout,
        error=error,
    )


def serve(
    env: Environment,
    *,
    http: bool = False,
    host: str = "127.0.0.1",
    port: int = 8000,
    control: bool = False,
    control_secret: str | None = None,
    log_level: str = "WARNING",
    call_cpu_s: float | None = None,
    call_memory_mb: float | None = None,
    max_memory_mb: float | None = None,
    header_timeout: float = HEADER_TIMEOUT_S,
    idle_timeout: int = IDLE_TIMEOUT_S,
    error: object = None,
) -> None:
    """Run `env`'s server until it is stopped."""
    level = log_level.upper()
    if level not in logging.getLevelNamesMapping():
        _fail(error, f"unknown log level {log_level!r} (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    secret = control_secret or os.environ.get(CONTROL_SECRET_ENV)
    pin_locale()
    if call_cpu_s is not None or call_memory_mb is not None:
        env.set_limits(
            CallLimits(
                cpu_s=env.limits.cpu_s if call_cpu_s is None else call_cpu_s,
                memory_mb=env.limits.memory_mb if call_memory_mb is None else call_memory_mb,
            )
        )
    if max_memory_mb and not set_process_memory_limit(max_memory_mb):
        logging.getLogger("mcpfactory.server").warning("could not cap the server's memory at %s MB", max_memory_mb)
    # Load the seed now, then move it (and everything imported) out of the collector's reach: with
    # thousands of live sessions, full collections walking the frozen seed dominated a call's cost.
    env.seed_state()
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    import anyio

    if http:
        if control and not secret:
            _fail(error, f"--control over HTTP needs --control-secret or ${CONTROL_SECRET_ENV}")
        import uvicorn  # a dependency of mcp itself

        server = env.build(control=control, control_secret=secret if control else None)
        app = server.streamable_http_app(host=host)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=level.lower(),
            http=_header_bounded_protocol(header_timeout, idle_timeout),
            timeout_keep_alive=idle_timeout,
        )
        anyio.run(uvicorn.Server(config).serve)
        return
    from mcp.server.stdio import stdio_server

    server = env.build(control=control, process_session=True)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


def pin_locale() -> None:
    """Put every locale category but LC_CTYPE back to "C", whatever the host process set.

    Results must not depend on the machine: under a host that called
    `setlocale(LC_ALL, "")`, the text of an OS error a body reports
    (`OverflowError(34, ...)` from a float power) comes out in the host's
    language, and number and date formats follow it too.
    """
    for category in (locale.LC_COLLATE, locale.LC_MONETARY, locale.LC_NUMERIC, locale.LC_TIME, locale.LC_MESSAGES):
        locale.setlocale(category, "C")


def _fail(error: object, message: str) -> None:
    if callable(error):
        error(message)
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _header_bounded_protocol(header_timeout: float, idle_timeout: float) -> type[Any]:
    """uvicorn's h11 protocol, plus a deadline for each request's headers (uvicorn has none of its own)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderBoundedH11(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._headers_due: Any = self.loop.call_later(header_timeout, self._headers_late)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle and self._headers_due is not None:
                self._headers_due.cancel()  # a request's headers arrived
                self._headers_due = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._headers_due is None and not self.transport.is_closing():
                self._headers_due = self.loop.call_later(HEADER_TIMEOUT_S + IDLE_TIMEOUT_S, self._headers_late)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._headers_due is not None:
                self._headers_due.cancel()
                self._headers_due = None
            super().connection_lost(exc)

        def _headers_late(self) -> None:
            self._headers_due = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderBoundedH11
