"""Fault injection for robustness training: transient tool errors, latency and dropped connections.

Rates are per tool call and drawn from a generator seeded by the episode's
seed and attempt, so a run is reproducible and a retried episode does not
replay the same drop. Every injected fault is marked in the call's record
(`injected`), and injected calls never count for or against the reward's
call match.

- `transient_error`: the call is not sent; the model gets an error result it
  may retry (`{"code": "transient"}`), as from a flaky API.
- `latency`: the call is sent after `latency_s` seconds (inside the tool-call
  deadline, so a long latency becomes a timeout).
- `drop`: the connection is dropped: the episode ends as `infra_error` and
  the runner retries it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from harness.connection import ToolResult

__all__ = ["FaultConfig", "FaultInjector", "InjectedFault"]

InjectedFault = Literal["transient_error", "latency", "drop"]

TRANSIENT_MESSAGE = "Temporary failure: the service is unavailable, please try again."


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Per-call probabilities of each injected fault (0 disables it)."""

    transient_error_rate: float = 0.0
    latency_rate: float = 0.0
    latency_s: float = 0.5
    drop_rate: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.transient_error_rate > 0 or self.latency_rate > 0 or self.drop_rate > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "transient_error_rate": self.transient_error_rate,
            "latency_rate": self.latency_rate,
            "latency_s": self.latency_s,
            "drop_rate": self.drop_rate,
        }


class FaultInjector:
    """Decide, call by call, which fault (if any) to inject into one episode attempt."""

    def __init__(self, config: FaultConfig, seed: int, attempt: int = 1) -> None:
        self.config = config
        self._rng = random.Random(f"faults:{seed}:{attempt}")

    def draw(self) -> InjectedFault | None:
        """Return the fault for the next call, or None; draws a fixed number of values per call."""
        drop, transient, latency = self._rng.random(), self._rng.random(), self._rng.random()
        if drop < self.config.drop_rate:
            return "drop"
        if transient < self.config.transient_error_rate:
            return "transient_error"
        if latency < self.config.latency_rate:
            return "latency"
        return None

    @staticmethod
    def transient_result() -> ToolResult:
        """The error result a transient fault returns instead of calling the tool."""
        return ToolResult(text=TRANSIENT_MESSAGE, is_error=True, error={"code": "transient", "injected": True})
