"""Catalog servers over each transport: every server in memory; two of them over stdio and HTTP.

The process boundary is what the stdio and HTTP tests exercise, and it is the
same code for every server (the runtime's), so two servers start processes:
the small example and the largest catalog environment.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcpfactory.runtime import CONTROL_SECRET_META_KEY, CONTROL_STATE_HASH, unwrap
from mcpfactory.spec import load_spec
from tests.conftest import CATALOG, REPO, catalog_envs

ENVS = catalog_envs()
PROCESS_ENVS = [env for env in ("todo", "tau_retail") if env in ENVS]


def _first_success_example(env: str) -> tuple[str, dict[str, Any], Any]:
    spec = load_spec(CATALOG / env / "spec.yaml").spec
    for name, tool in spec.tools.items():
        for example in tool.examples:
            if example.expects_result and not example.before:
                return name, example.args, example.returns
    raise AssertionError(f"{env} has no success example")


def _first_write_example(env: str) -> tuple[str, dict[str, Any]] | None:
    spec = load_spec(CATALOG / env / "spec.yaml").spec
    for name, tool in spec.tools.items():
        for example in tool.examples:
            if tool.effect == "write" and example.expects_result and not example.before:
                return name, example.args
    return None


async def _exercise(client: Client, env: str) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    name, args, expected = _first_success_example(env)
    result = await client.call_tool(name, args)
    assert not result.is_error, result.content
    assert unwrap(result.structured_content, tools[name].output_schema) == expected


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    env, extra = request.param if isinstance(request.param, tuple) else (request.param, [])
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", f"servers.{env}", "--http", "--port", str(port), *extra],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start: {log.read_text()}") from None
                time.sleep(0.05)  # polling a port with a deadline; no event to wait on across processes
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.parametrize("env", ENVS)
async def test_server_answers_in_memory(env: str) -> None:
    from mcpfactory.catalog import server_module

    async with Client(server_module(env).build(), mode="legacy") as client:
        await _exercise(client, env)


@pytest.mark.parametrize("env", PROCESS_ENVS)
async def test_server_answers_over_stdio(env: str) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", f"servers.{env}"], cwd=str(REPO), env={"PYTHONPATH": str(REPO)}
    )
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            await _exercise(client, env)


@pytest.mark.parametrize("http_server", PROCESS_ENVS, indirect=True, ids=PROCESS_ENVS)
async def test_server_answers_over_http(http_server: str, request: pytest.FixtureRequest) -> None:
    env = request.node.callspec.id
    with anyio.fail_after(60):
        async with Client(http_server, mode="legacy") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert not any(name.startswith("_control") for name in names)
            await _exercise(client, env)


@pytest.mark.parametrize(
    "http_server",
    [(env, ["--control", "--control-secret", "s3"]) for env in PROCESS_ENVS],
    indirect=True,
    ids=PROCESS_ENVS,
)
async def test_http_sessions_do_not_see_each_others_writes(http_server: str, request: pytest.FixtureRequest) -> None:
    env = request.node.callspec.id
    write = _first_write_example(env)
    if write is None:
        pytest.skip(f"{env} has no write example")
    secret = {CONTROL_SECRET_META_KEY: "s3"}

    async def state_hash(client: Client) -> str:
        result = await client.call_tool(CONTROL_STATE_HASH, {}, meta=secret)
        assert not result.is_error, result.content
        return str(json.loads(result.content[0].text)["state_sha256"])  # type: ignore[union-attr]

    with anyio.fail_after(60):
        async with Client(http_server, mode="legacy") as first, Client(http_server, mode="legacy") as second:
            seed = await state_hash(first)
            with pytest.raises(MCPError):  # without the secret, a control tool is an unknown tool
                await first.call_tool(CONTROL_STATE_HASH, {})
            result = await first.call_tool(*write)
            assert not result.is_error, result.content
            assert await state_hash(first) != seed
            assert await state_hash(second) == seed
