"""The exceptions the harness raises: its branch of mcpfactory's one tree (drawn in `mcpfactory.errors`).

```
MCPFactoryError
 ├── TaskFileError          a tasks file line that is not a task (file, line, field)
 ├── InfraError             the plumbing failed; says nothing about the agent; the runner retries it
 │    └── ConnectionLost    the MCP connection to an environment broke
 ├── ControlError           a control-plane call was refused (bad initial state, no control plane)
 ├── ModelError             a model call failed for good: retries ran out, or the request was refused
 │    └── ContextLengthExceeded  the conversation no longer fits the model's context
 └── HarnessError           the harness could not do what it was asked
      ├── TaskError         a task that cannot run as written (its solution calls an unknown tool, ...)
      ├── RecordFileError   a records file that cannot be read back (file, line)
      ├── RunMismatch       --resume of a run with another policy, sampler or group size
      └── MalformedOutput   the model answered with something that is not a usable turn
```

`ModelError` is shared with synthesis (`harness.llm` is the one layer that
calls models). An episode turns these into termination reasons; only
`InfraError` is retried.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from mcpfactory.runtime import ConnectionLost, ControlError, InfraError, MCPFactoryError, TaskFileError

__all__ = [
    "ConnectionLost",
    "ContextLengthExceeded",
    "ControlError",
    "HarnessError",
    "InfraError",
    "MalformedOutput",
    "ModelError",
    "ModelErrorKind",
    "RecordFileError",
    "RunMismatch",
    "TaskError",
    "TaskFileError",
]

ModelErrorKind = Literal["auth", "bad_request", "context_length", "rate_limit", "server", "timeout", "connection"]


class HarnessError(MCPFactoryError):
    """Base class of the errors the harness raises on purpose."""


class TaskError(HarnessError):
    """A task that cannot run as written: its solution calls an unknown tool, or its initial state is refused."""

    def __init__(self, task: str, message: str) -> None:
        self.task = task
        super().__init__(f"task {task}: {message}")


class RecordFileError(HarnessError):
    """A records file with a line that is not a record (other than a torn last line)."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


class RunMismatch(HarnessError):
    """A resumed run asked for something the recorded run did not (another policy, sampler or group size)."""


class ModelError(MCPFactoryError):
    """The model server failed after retries, or refused the request.

    `kind` says which: `auth` (401/403: a key is missing or wrong),
    `bad_request` (another 4xx), `context_length`, `rate_limit`, `server`
    (5xx), `timeout` or `connection` (each after the retries ran out).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ModelErrorKind = "server",
        status: int | None = None,
        attempts: int = 1,
        model: str | None = None,
    ) -> None:
        self.kind = kind
        self.status = status
        self.attempts = attempts
        self.model = model
        super().__init__(message)


class ContextLengthExceeded(ModelError):
    """The conversation no longer fits the model's context window (a 400 from vLLM, OpenAI, ...)."""


class MalformedOutput(HarnessError):
    """The model's reply cannot be used as a turn (no choices, an unparseable body)."""
