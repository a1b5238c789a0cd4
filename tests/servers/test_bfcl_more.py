"""bfcl_twitter, bfcl_trading, bfcl_travel and bfcl_vehicle replay BFCL's multi-turn base vectors exactly.

The vectors and probes (`shared/reference/bfcl/<Class>/`) were recorded by running
BFCL's own classes (bfcl-eval 2026.3.23): every call's text as BFCL shows it to a
model, whether it is an error, and the SHA-256 of the instance's public state
after every turn. Each record is replayed here through a real MCP connection
from its scenario (`_control_reset {"scenario": ...}`); the `bfcl` view stands
for the instance's state. One subprocess per environment checks the same over
stdio.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.client.client import Client

from mcpfactory.catalog import server_module
from mcpfactory.connect import stdio_parameters
from mcpfactory.runtime import EnvClient, canonical_json
from tests.conftest import CATALOG

pytestmark = pytest.mark.anyio

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "bfcl"
CLASSES = {
    "bfcl_twitter": "TwitterAPI",
    "bfcl_trading": "TradingBot",
    "bfcl_travel": "TravelAPI",
    "bfcl_vehicle": "VehicleControlAPI",
}

needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason="BFCL reference vectors (../shared/reference/bfcl) are not available"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


class _Replay:
    """Replays records of one class on one session and collects every difference from the recording."""

    def __init__(self, env: EnvClient) -> None:
        self.env = env
        self.calls = 0
        self.states = 0
        self.mismatches: list[str] = []

    async def start(self, record: dict[str, Any]) -> None:
        scenario = {"config": record["initial_config"], "long_context": record["long_context"]}
        await self.env.reset({"scenario": scenario})

    async def check_state(self, where: str, expected: str) -> None:
        self.states += 1
        got = _sha256(await self.env.view("bfcl"))
        if got != expected:
            self.mismatches.append(f"{where}: state {got[:12]} != {expected[:12]}")

    async def run(self, where: str, calls: list[dict[str, Any]]) -> None:
        for call in calls:
            self.calls += 1
            result = await self.env.call_tool(call["tool"], call["arguments"])
            if (result.text, result.is_error) != (call["bfcl_output"], call["is_error"]):
                self.mismatches.append(
                    f"{where} call {call['i']} {call['tool']}({json.dumps(call['arguments'])[:80]}): "
                    f"got {result.is_error} {result.text[:160]!r}, "
                    f"expected {call['is_error']} {call['bfcl_output'][:160]!r}"
                )


async def _replay_class(env: str) -> _Replay:
    folder = REFERENCE / CLASSES[env]
    vectors = {record["task"]: record for record in _lines(folder / "vectors-base.jsonl")}
    async with Client(server_module(env).build(control=True), mode="legacy") as client:
        replay = _Replay(EnvClient(client, env))
        for task, record in vectors.items():
            await replay.start(record)
            await replay.check_state(f"{task} initial", record["initial_state_sha256"])
            for turn in record["turns"]:
                await replay.run(f"{task} turn {turn['turn']}", turn["calls"])
                await replay.check_state(f"{task} turn {turn['turn']}", turn["state_sha256"])
        for probe in _lines(folder / "probes-base.jsonl"):
            where = f"{probe['task']} probe {probe['phase']}"
            record = vectors[probe["task"]]
            await replay.start(record)
            if probe["phase"] == "after_ground_truth":
                for turn in record["turns"]:
                    await replay.run(where, turn["calls"])
            await replay.check_state(f"{where} before", probe["state_before_sha256"])
            await replay.run(where, probe["calls"])
            await replay.check_state(where, probe["after_state_sha256"])
    return replay


@needs_reference
@pytest.mark.parametrize("env", sorted(CLASSES))
async def test_every_base_vector_and_probe_replays_exactly_through_mcp(env: str) -> None:
    replay = await _replay_class(env)
    assert replay.mismatches == []
    assert replay.calls > 300
    assert replay.states > 100


@needs_reference
@pytest.mark.slow
@pytest.mark.parametrize("env", sorted(CLASSES))
async def test_a_vector_replays_the_same_over_stdio_in_another_time_zone(env: str) -> None:
    record = next(_lines(REFERENCE / CLASSES[env] / "vectors-base.jsonl"))
    assert (CATALOG / env / "server.py").exists()
    parameters = stdio_parameters(env, "--control")
    # The vectors were recorded under UTC; results must not depend on the server's local time.
    parameters = parameters.model_copy(update={"env": {**(parameters.env or {}), "TZ": "America/Santiago"}})
    async with Client(parameters, mode="legacy") as client:
        replay = _Replay(EnvClient(client, env))
        await replay.start(record)
        await replay.check_state("initial", record["initial_state_sha256"])
        for turn in record["turns"]:
            await replay.run(f"turn {turn['turn']}", turn["calls"])
            await replay.check_state(f"turn {turn['turn']}", turn["state_sha256"])
    assert replay.mismatches == []
