"""A server on stdio survives what a broken or hostile client writes, and keeps serving."""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from mcpfactory.runtime import FAULT_META_KEY
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "mcpfactory"


class _Peer:
    """A raw JSON-RPC peer over a server's stdin/stdout, one message per line."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.lines = TextReceiveStream(process.stdout)
        self.buffer = ""

    async def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self.process.stdin.send((text + "\n").encode())  # type: ignore[union-attr]

    async def receive(self) -> dict[str, Any]:
        while "\n" not in self.buffer:
            self.buffer += await self.lines.receive()
        line, self.buffer = self.buffer.split("\n", 1)
        return json.loads(line)  # type: ignore[no-any-return]

    async def request(self, id_: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.send({"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}})
        while True:
            message = await self.receive()
            if message.get("id") == id_:
                return message


async def _started() -> Process:
    return await anyio.open_process(
        [sys.executable, "-m", "golden.library"], cwd=GOLDEN, env={"PYTHONPATH": str(GOLDEN)}, stderr=None
    )


async def _initialised(peer: _Peer) -> None:
    init = await peer.request(
        1,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
    )
    assert init["result"]["serverInfo"]["name"] == "library"
    await peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})


async def test_malformed_lines_unknown_methods_and_huge_arguments_do_not_stop_the_server() -> None:
    with anyio.fail_after(60):
        process = await _started()
        try:
            peer = _Peer(process)
            await _initialised(peer)
            await peer.send("{this is not json")
            await peer.send('{"jsonrpc": "2.0", "id": 7}')
            unknown = await peer.request(2, "no/such/method")
            assert unknown["error"]["code"] == -32601
            huge = await peer.request(3, "tools/call", {"name": "find_book", "arguments": {"title": "x" * 5_000_000}})
            assert huge["result"]["isError"] is True
            wrong = await peer.request(
                4, "tools/call", {"name": "find_book", "arguments": {"title": ["not", "a", "string"]}}
            )
            assert wrong["result"]["isError"] is True
            crash = await peer.request(5, "tools/call", {"name": "crash", "arguments": {}})
            assert crash["result"]["_meta"][FAULT_META_KEY]["kind"] == "env_fault"
            fine = await peer.request(6, "tools/call", {"name": "find_book", "arguments": {"title": "Dune"}})
            assert fine["result"]["structuredContent"]["book_id"] == "b1"
            assert process.returncode is None
        finally:
            process.kill()
            await process.wait()
            await process.aclose()


async def test_a_stdio_process_is_one_session_that_keeps_its_writes() -> None:
    with anyio.fail_after(60):
        process = await _started()
        try:
            peer = _Peer(process)
            await _initialised(peer)
            await peer.request(
                2, "tools/call", {"name": "borrow_book", "arguments": {"member_id": "m1", "book_id": "b1"}}
            )
            after = await peer.request(3, "tools/call", {"name": "find_book", "arguments": {"title": "Dune"}})
            assert after["result"]["structuredContent"]["copies"] == 1
        finally:
            process.kill()
            await process.wait()
            await process.aclose()
