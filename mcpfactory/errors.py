"""The exceptions mcpfactory raises.

```
MCPFactoryError
 ├── SpecError          a spec that does not load: one or more SpecIssues with file, line, column, path
 ├── CompileError       a spec that loads but cannot be turned into a server (e.g. the formatter failed)
 ├── DriftError         `compile --check`: a committed server differs from what its spec generates
 ├── ReplayError        `replay`: an unreadable calls file or a server that cannot be reached
 └── SynthError         synthesis could not do what it was asked (mcpfactory.synth)
      ├── ModelError         the model could not be reached or refused, after retries
      │    └── CacheMiss     replay mode met a request the cache never recorded
      ├── OutputError        the model's reply held no JSON (or YAML) that validates
      ├── DraftRejected      no draft passed within the allowed rounds
      └── OpenAPIError       an OpenAPI document that cannot be turned into a spec
```

The synthesis errors live in `mcpfactory.synth` (they carry model fields);
verification failures are reports, not exceptions (`mcpfactory.verify`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CompileError", "DriftError", "MCPFactoryError", "ReplayError", "SpecError", "SpecIssue"]


class MCPFactoryError(Exception):
    """Base class of every error mcpfactory raises on purpose."""


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
