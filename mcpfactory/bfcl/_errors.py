"""The error the BFCL import raises, under `MCPFactoryError`."""

from __future__ import annotations

from mcpfactory.errors import MCPFactoryError

__all__ = ["BFCLError"]


class BFCLError(MCPFactoryError):
    """bfcl-eval is missing or of another version, or its data holds something that is not a task we can run.

    `where` locates the problem (`file:line`, an entry id, `entry.field`), or is empty.
    """

    def __init__(self, message: str, *, where: str = "") -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
