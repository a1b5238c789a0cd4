"""Replay BFCL's recorded multi-turn behaviour through an environment's MCP server and list every difference.

The reference (`shared/reference/bfcl/<Class>/`, beside the repository) holds,
per (task, class), the calls BFCL's ground truth made, each call's exact text
(`bfcl_output`) and error flag, and the SHA-256 of the class's state (its
canonical JSON) at the start and after every turn; and probe calls (error
paths) made after the ground truth or on a fresh instance. A replay resets a
session to the record's scenario (`{"config": ..., "long_context": ...}`),
makes the same calls and compares, through a real MCP client:

- each call's text block with `bfcl_output` and `isError` with `is_error`;
- the canonical SHA-256 of the `bfcl` view with the recorded hash at the start,
  after every turn and after the probes.

`Replayer` works on any `EnvClient` (in memory or over stdio); one client is
reused for every record, since each record starts with a reset.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpfactory.runtime import EnvClient, canonical_json

__all__ = ["REFERENCE", "Replayer", "load", "missing_reason", "recorded", "view_sha256"]

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "bfcl"
"""The reference vectors: `../shared/reference/bfcl` from the repository root."""

VIEW = "bfcl"


def missing_reason(cls: str) -> str | None:
    """Why the reference for `cls` cannot be used here (a skip message), or None when it can."""
    folder = REFERENCE / cls
    if not (folder / "vectors-base.jsonl").is_file() or not (folder / "probes-base.jsonl").is_file():
        return f"BFCL reference vectors for {cls} not available (expected in {folder})"
    return None


def load(cls: str, kind: str, category: str = "base") -> list[dict[str, Any]]:
    """The records of `<cls>/<kind>-<category>.jsonl` (`kind` is "vectors" or "probes"), in file order."""
    path = REFERENCE / cls / f"{kind}-{category}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def view_sha256(view: Any) -> str:
    """The reference's state hash: SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8)."""
    return hashlib.sha256(canonical_json(view).encode("utf-8")).hexdigest()


def _first_difference(got: Any, want: Any, path: str = "") -> str:
    """Where two JSON values first differ, and how (for a readable mismatch)."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            if key not in got or key not in want:
                return f"{path}/{key}: {'missing' if key not in got else 'unexpected'}"
            if canonical_json(got[key]) != canonical_json(want[key]):
                return _first_difference(got[key], want[key], f"{path}/{key}")
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for index, (left, right) in enumerate(zip(got, want, strict=True)):
            if canonical_json(left) != canonical_json(right):
                return _first_difference(left, right, f"{path}/{index}")
    return f"{path or '/'}: got {json.dumps(got)[:160]}, want {json.dumps(want)[:160]}"


@dataclass
class Replayer:
    """Replays records on one session of an environment and collects every mismatch as a line of text."""

    client: EnvClient
    mismatches: list[str] = field(default_factory=list)
    calls: int = 0  # every call made, the ground truth replayed before probes included
    states: int = 0  # every state compared
    records: dict[str, int] = field(default_factory=lambda: {"vectors": 0, "probes": 0})
    recorded_calls: dict[str, int] = field(default_factory=lambda: {"vectors": 0, "probes": 0})

    async def start(self, where: str, config: Any, long_context: bool, want_sha256: str | None) -> None:
        await self.client.reset({"scenario": {"config": config, "long_context": long_context}})
        if want_sha256 is not None:
            await self.check_state(f"{where} initial state", want_sha256, None)

    async def check_state(self, where: str, want_sha256: str, want_state: Any) -> None:
        view = await self.client.view(VIEW)
        self.states += 1
        if view_sha256(view) != want_sha256:
            detail = _first_difference(view, want_state) if want_state is not None else "hash differs"
            self.mismatches.append(f"{where}: state differs at {detail}")

    async def call(self, where: str, call: dict[str, Any]) -> None:
        result = await self.client.call_tool(call["tool"], call["arguments"])
        self.calls += 1
        label = f"{where} call {call['i']} {call['tool']}({json.dumps(call['arguments'])[:120]})"
        if result.text != call["bfcl_output"]:
            self.mismatches.append(f"{label}: text {result.text[:300]!r}, want {call['bfcl_output'][:300]!r}")
        if result.is_error != call["is_error"]:
            self.mismatches.append(f"{label}: isError {result.is_error}, want {call['is_error']}")

    async def vector(self, record: dict[str, Any]) -> None:
        """Replay one (task, class) record: initial state, every call, the state after every turn."""
        where = f"{record['task']}/{record['class']}"
        await self.start(where, record["initial_config"], record["long_context"], record["initial_state_sha256"])
        await self._turns(where, record)
        self.records["vectors"] += 1
        self.recorded_calls["vectors"] += sum(len(turn["calls"]) for turn in record["turns"])

    async def _turns(self, where: str, record: dict[str, Any]) -> None:
        for turn in record["turns"]:
            for call in turn["calls"]:
                await self.call(f"{where} turn {turn['turn']}", call)
            await self.check_state(f"{where} after turn {turn['turn']}", turn["state_sha256"], turn["state"])

    async def probe(self, record: dict[str, Any], vectors: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Replay one probe record: after the ground truth (its vector record first) or on a fresh instance."""
        where = f"{record['task']}/{record['class']} probes {record['phase']}"
        if record["phase"] == "initial":
            await self.start(where, record["initial_config"], record["long_context"], record["state_before_sha256"])
        else:
            vector = vectors[(record["task"], record["class"])]
            await self.start(where, vector["initial_config"], vector["long_context"], None)
            await self._turns(where, vector)
            await self.check_state(f"{where} before", record["state_before_sha256"], None)
        for call in record["calls"]:
            await self.call(where, call)
        await self.check_state(f"{where} after", record["after_state_sha256"], record["after_state"])
        self.records["probes"] += 1
        self.recorded_calls["probes"] += len(record["calls"])

    async def everything(self, cls: str, category: str = "base") -> None:
        """Replay every vector and probe record of `cls`."""
        vectors = load(cls, "vectors", category)
        for record in vectors:
            await self.vector(record)
        by_key = {(record["task"], record["class"]): record for record in vectors}
        for record in load(cls, "probes", category):
            await self.probe(record, by_key)


def recorded(cls: str, category: str = "base") -> tuple[dict[str, int], dict[str, int]]:
    """How many records and recorded calls `<cls>` holds, as `Replayer.records` and `.recorded_calls` count them."""
    vectors, probes = load(cls, "vectors", category), load(cls, "probes", category)
    records = {"vectors": len(vectors), "probes": len(probes)}
    calls = {
        "vectors": sum(len(turn["calls"]) for record in vectors for turn in record["turns"]),
        "probes": sum(len(record["calls"]) for record in probes),
    }
    return records, calls
