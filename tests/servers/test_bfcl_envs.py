"""The eight bfcl_* environments reproduce BFCL's classes exactly, through MCP.

Every recorded base-category call of each class (ground truth and probes) is
replayed on the environment's server: each text block must equal BFCL's
`bfcl_output`, each `isError` its `is_error`, and the `bfcl` view's canonical
SHA-256 the recorded state hash at the start and after every turn
(`tests/servers/bfcl_vectors.py`). The replay runs in memory; one smoke test
per environment goes through `python -m servers.<env> --control` over stdio,
in a time zone other than the recording's.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp.client.client import Client

from mcpfactory.connect import stdio_parameters
from mcpfactory.runtime import EnvClient, server_module
from tests.conftest import CATALOG
from tests.servers.bfcl_vectors import Replayer, load, missing_reason, recorded

ENVS = {
    "bfcl_file_system": "GorillaFileSystem",
    "bfcl_math": "MathAPI",
    "bfcl_message": "MessageAPI",
    "bfcl_ticket": "TicketAPI",
    "bfcl_trading": "TradingBot",
    "bfcl_travel": "TravelAPI",
    "bfcl_twitter": "TwitterAPI",
    "bfcl_vehicle": "VehicleControlAPI",
}


def _skip_unless_ready(env: str) -> None:
    if not (CATALOG / env / "server.py").exists():
        pytest.skip(f"servers/{env} is not compiled")
    reason = missing_reason(ENVS[env])
    if reason is not None:
        pytest.skip(reason)


def _env_client(env: str, client: Client, tools: list[Any]) -> EnvClient:
    return EnvClient(client, env, output_schemas={tool.name: tool.output_schema for tool in tools})


@pytest.mark.parametrize("env", sorted(ENVS))
async def test_every_base_vector_and_probe_replays_exactly_in_memory(env: str) -> None:
    _skip_unless_ready(env)
    async with Client(server_module(env).build(control=True), mode="legacy") as client:
        replayer = Replayer(_env_client(env, client, (await client.list_tools()).tools))
        with anyio.fail_after(240):
            await replayer.everything(ENVS[env])
    assert replayer.mismatches[:20] == []
    assert (replayer.records, replayer.recorded_calls) == recorded(ENVS[env])


@pytest.mark.parametrize("env", sorted(ENVS))
async def test_the_stdio_server_replays_a_task_exactly_in_another_time_zone(env: str) -> None:
    _skip_unless_ready(env)
    record = max(load(ENVS[env], "vectors"), key=lambda r: sum(len(t["calls"]) for t in r["turns"]))
    parameters = stdio_parameters(env, "--control")
    # The vectors were recorded under UTC; no result may depend on the server's local time.
    parameters = parameters.model_copy(update={"env": {**(parameters.env or {}), "TZ": "America/Santiago"}})
    with anyio.fail_after(60):
        async with Client(parameters, mode="legacy") as client:
            replayer = Replayer(_env_client(env, client, (await client.list_tools()).tools))
            await replayer.vector(record)
    assert replayer.mismatches == []
    assert replayer.calls == sum(len(turn["calls"]) for turn in record["turns"])
