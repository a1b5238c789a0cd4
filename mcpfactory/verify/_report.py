"""What a verification says: one result per check, gathered per environment."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult", "EnvReport", "Status"]


class Status(enum.StrEnum):
    """How a check ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check on one environment: its status, a one-line summary and the evidence behind it."""

    name: str
    status: Status
    summary: str
    evidence: tuple[str, ...] = ()
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "seconds": round(self.seconds, 3),
            "stats": self.stats,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            name=data["name"],
            status=Status(data["status"]),
            summary=data["summary"],
            evidence=tuple(data.get("evidence", ())),
            seconds=float(data.get("seconds", 0.0)),
            stats=dict(data.get("stats", {})),
        )


@dataclass(frozen=True, slots=True)
class EnvReport:
    """Every check run on one environment, in order; `ok` when none failed."""

    env: str
    target: str
    spec_sha256: str | None
    seed: int
    checks: tuple[CheckResult, ...]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not any(c.status is Status.FAILED for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status is Status.FAILED]

    def check(self, name: str) -> CheckResult:
        """Return the result of the check called `name`; raise `KeyError` if it was not run."""
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "target": self.target,
            "spec_sha256": self.spec_sha256,
            "seed": self.seed,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "checks": [c.to_json() for c in self.checks],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnvReport:
        return cls(
            env=data["env"],
            target=data["target"],
            spec_sha256=data.get("spec_sha256"),
            seed=int(data.get("seed", 0)),
            checks=tuple(CheckResult.from_json(c) for c in data.get("checks", ())),
            seconds=float(data.get("seconds", 0.0)),
        )
