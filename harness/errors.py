"""The exceptions the harness raises.

The harness never imports `mcpfactory`, so it keeps its own tree:

```
HarnessError
 ├── TaskFileError      a tasks.jsonl line that is not a task: file, line, field
 ├── RecordFileError    a records file that cannot be read back: file, line
 ├── InfraError         the harness lost its server (connection dropped, process died); retried
 │    └── ConnectionLost
 └── PolicyError        the policy could not produce a turn
      ├── ModelError       the model server failed (after retries), or refused the request
      └── MalformedOutput  the model answered with something that is not a usable turn
```

An episode turns these into termination reasons (`infra_error`, `model_error`,
`malformed_output`); only `InfraError` is retried by the runner.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConnectionLost",
    "HarnessError",
    "InfraError",
    "MalformedOutput",
    "ModelError",
    "PolicyError",
    "RecordFileError",
    "TaskFileError",
]


class HarnessError(Exception):
    """Base class of every error the harness raises on purpose."""


class TaskFileError(HarnessError):
    """A tasks file line that does not describe a task."""

    def __init__(self, path: Path | str, line: int, field: str, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = f"{field}: " if field else ""
        super().__init__(f"{self.path}:{line}: {where}{message}")


class RecordFileError(HarnessError):
    """A records file with a line that is not a record (other than a torn last line)."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


class InfraError(HarnessError):
    """The harness's own plumbing failed; the episode says nothing about the agent and is retried."""


class ConnectionLost(InfraError):
    """The MCP connection to the environment broke (a dead process, a dropped socket)."""

    def __init__(self, env: str, detail: str) -> None:
        self.env = env
        self.detail = detail
        super().__init__(f"{env}: connection lost: {detail}")


class PolicyError(HarnessError):
    """The policy could not produce the next assistant turn."""


class ModelError(PolicyError):
    """The model server failed after retries, or refused the request (status 4xx other than 429)."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        self.status = status
        self.attempts = attempts
        super().__init__(message)


class MalformedOutput(PolicyError):
    """The model's reply cannot be used as a turn (no choices, an unparseable body)."""
