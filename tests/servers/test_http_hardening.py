"""A server over streamable HTTP facing hostile clients: forged session keys, sessionless writes, half-open sockets.

The process boundary and the HTTP transport are what is under test, so these
start a real server process (the small `todo` environment).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp.client.client import Client

from mcpfactory.runtime import ERROR_META_KEY, NEW_SESSION, SESSION_META_KEY
from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "servers.todo", "--http", "--port", str(port), "--header-timeout", "0.5"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start: {log.read_text()}") from None
                time.sleep(0.05)  # polling a port with a deadline; no event to wait on across processes
        yield f"http://127.0.0.1:{port}/mcp", port
    finally:
        process.kill()
        process.wait(timeout=10)


ADD = {"project_id": "home", "title": "Water the plants"}


async def test_two_http_clients_never_reach_each_others_state_by_a_key_they_choose(server: tuple[str, int]) -> None:
    url, _ = server
    with anyio.fail_after(60):
        async with Client(url) as first, Client(url) as second:
            opened = await first.call_tool("add_task", ADD, meta={SESSION_META_KEY: NEW_SESSION})
            key = str(opened.meta[SESSION_META_KEY])  # type: ignore[index]
            mine = await first.call_tool("find_tasks", {"text": "Water"}, meta={SESSION_META_KEY: key})
            guesses = ["1", "harness-1", key.split(".")[0], key[:-1] + ("0" if key[-1] != "0" else "1")]
            theirs = [
                await second.call_tool("find_tasks", {"text": "Water"}, meta={SESSION_META_KEY: guess})
                for guess in guesses
            ]
            fresh = await second.call_tool("find_tasks", {"text": "Water"}, meta={SESSION_META_KEY: NEW_SESSION})
    assert len(mine.structured_content["result"]) == 1  # type: ignore[index]
    assert [(t.is_error, (t.meta or {}).get(ERROR_META_KEY)) for t in theirs] == [
        (True, {"code": "bad_session"})
    ] * len(guesses)
    assert fresh.structured_content == {"result": []}


async def test_a_sessionless_write_over_http_is_refused_not_lost(server: tuple[str, int]) -> None:
    url, _ = server
    with anyio.fail_after(60):
        async with Client(url) as client:  # the SDK's default: 2026-era, no session
            write = await client.call_tool("add_task", ADD)
    assert write.is_error
    assert (write.meta or {})[ERROR_META_KEY] == {"code": "no_session"}


def test_a_half_open_connection_is_cut_off_after_the_header_timeout(server: tuple[str, int]) -> None:
    _, port = server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        assert sock.recv(1024) == b""  # the server closed the connection (the timeout bounds the wait)
