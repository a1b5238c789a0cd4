"""The exceptions mcpfactory raises: one tree, rooted at `MCPFactoryError`.

```
MCPFactoryError                       (mcpfactory.runtime)
 ├── UnknownEnvironment (LookupError)  an environment the catalog does not hold
 ├── TaskFileError                     a tasks file line that is not a task: file, line, field
 ├── ControlError                      a control-plane call was refused (no control plane, bad initial state)
 ├── InfraError                        the plumbing failed; says nothing about the agent; the runner retries it
 │    └── ConnectionLost               the MCP connection to an environment broke
 ├── RuntimeVersionError (ImportError) a server compiled for a runtime API this installation lacks
 ├── SpecError                         a spec that does not load: SpecIssues with file, line, column, path
 ├── CompileError                      a spec that loads but cannot be turned into a server
 ├── DriftError                        `compile --check`: a committed server differs from what its spec generates
 ├── ReplayError                       `replay`: an unreadable calls file
 ├── UsageError (ValueError)           a command asked for something that does not exist (an unknown check)
 ├── ModelError                        a model call failed for good (harness.llm, the one model layer)
 │    ├── ContextLengthExceeded        the conversation no longer fits the model's context
 │    └── CacheMiss                    synthesis replay mode met a request its cache never recorded
 ├── SynthError                        synthesis could not do what it was asked (mcpfactory.synth)
 │    ├── OutputError                  the model's reply held no JSON (or YAML) that validates
 │    ├── DraftRejected                no draft passed within the allowed rounds
 │    └── OpenAPIError                 an OpenAPI document that cannot be turned into a spec
 └── HarnessError                      the harness could not do what it was asked (harness.errors)
      ├── RecordFileError              a records file that cannot be read back
      ├── RunMismatch                  --resume of a run with another policy, sampler or group size
      └── MalformedOutput              the model answered with something that is not a usable turn
```

The `mcpfactory` command catches the tree and prints one located line; any
other exception is a bug and keeps its traceback. Verification failures are
reports, not exceptions (`mcpfactory.verify`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcpfactory.runtime import (
    ConnectionLost,
    ControlError,
    InfraError,
    MCPFactoryError,
    RuntimeVersionError,
    TaskFileError,
    UnknownEnvironment,
)

__all__ = [
    "CompileError",
    "ConnectionLost",
    "ControlError",
    "DriftError",
    "InfraError",
    "MCPFactoryError",
    "ReplayError",
    "RuntimeVersionError",
    "SpecError",
    "SpecIssue",
    "TaskFileError",
    "UnknownEnvironment",
    "UsageError",
]


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """One mistake in a spec, located in its source file."""

    file: str
    line: int
    col: int
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.col}: {where}{self.message}{hint}"


class SpecError(MCPFactoryError):
    """A spec that does not load; `issues` lists every mistake found, in file order."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.col, i.path))
        super().__init__("\n".join(str(issue) for issue in self.issues))


class CompileError(MCPFactoryError):
    """A spec that loads but cannot be compiled."""

    def __init__(self, spec: Path, message: str) -> None:
        self.spec = spec
        super().__init__(f"{spec}: {message}")


class DriftError(MCPFactoryError):
    """Committed generated files that differ from what their specs generate."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        names = "\n".join(f"  {path}" for path in files)
        super().__init__(f"generated files are out of date with their specs:\n{names}\nrun: mcpfactory compile")


class ReplayError(MCPFactoryError):
    """A replay that cannot run: bad input lines or an unreachable server."""


class UsageError(MCPFactoryError, ValueError):
    """A command asked for something that does not exist or does not fit together (an unknown check name)."""
