"""The root of mcpfactory's exception tree and the errors of the runtime's own concepts.

The whole tree is drawn in `mcpfactory.errors`; the classes here live in the
runtime because generated servers, the harness and the verifier all raise or
catch them, and the runtime imports nothing else of the project.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConnectionLost",
    "ControlError",
    "InfraError",
    "MCPFactoryError",
    "RuntimeVersionError",
    "TaskFileError",
    "UnknownEnvironment",
]


class MCPFactoryError(Exception):
    """Base class of every error mcpfactory raises on purpose."""


class UnknownEnvironment(MCPFactoryError, LookupError):
    """An environment name that the catalog (or the given folder) does not hold."""

    def __init__(self, env: str, where: str, known: list[str] | None = None) -> None:
        self.env = env
        self.where = where
        self.known = known
        listing = f" (known: {', '.join(known) or 'none'})" if known is not None else ""
        super().__init__(f"no environment {env!r} in {where}{listing}")


class TaskFileError(MCPFactoryError):
    """A tasks file line that is not a task: file, line, the field at fault, and why."""

    def __init__(self, path: Path | str, line: int, field: str, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = f"{field}: " if field else ""
        super().__init__(f"{self.path}:{line}: {where}{message}")


class ControlError(MCPFactoryError):
    """A control-plane call the server refused (control disabled, bad secret, bad arguments)."""


class InfraError(MCPFactoryError):
    """The plumbing between a client and a server failed; says nothing about the agent or the environment."""


class ConnectionLost(InfraError):
    """The MCP connection to an environment broke (a dead process, a dropped socket, a closed stream)."""

    def __init__(self, env: str, detail: str) -> None:
        self.env = env
        self.detail = detail
        super().__init__(f"{env}: connection lost: {detail}")


class RuntimeVersionError(MCPFactoryError, ImportError):
    """A generated server compiled for a runtime API this installation does not provide."""
