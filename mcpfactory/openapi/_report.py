"""The import report: what became of every operation of a document, and what the import had to work around."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ImportReport", "OperationReport"]


@dataclass(frozen=True, slots=True)
class OperationReport:
    """One operation: the tool it became (`None` if none) and, for a stub or a left-out operation, why."""

    method: str
    path: str
    operationId: str | None
    tool: str | None
    reason: str | None
    kind: str | None = None
    pointer: str = ""


@dataclass
class ImportReport:
    """Every operation of a document with its outcome, and notes located by JSON pointer."""

    document: str
    operations: list[OperationReport] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)

    @property
    def tools(self) -> int:
        return sum(1 for o in self.operations if o.tool is not None)

    @property
    def left_out(self) -> list[OperationReport]:
        return [o for o in self.operations if o.tool is None]

    @property
    def stubs(self) -> int:
        return sum(1 for o in self.operations if o.tool is not None and o.kind == "stub")

    def kinds(self) -> dict[str, int]:
        return dict(Counter(o.kind or "left out" for o in self.operations))

    def to_json(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "operations": [asdict(o) for o in self.operations],
            "notes": list(self.notes),
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def for_model(self, limit: int = 60) -> str:
        """The operations a model enriching the skeleton should know about: stubs, recorded calls, those left out."""
        lines = []
        for o in self.operations:
            if o.reason is None:
                continue
            label = f"{o.method} {o.path}" + (f" ({o.operationId})" if o.operationId else "")
            lines.append(f"- {label}: " + (f"tool {o.tool}, {o.reason}" if o.tool else f"no tool: {o.reason}"))
        if not lines:
            return "Every operation of the document became a tool with behaviour over the state."
        more = len(lines) - limit
        head = (
            "The import report: these operations have no real behaviour yet (give them behaviour over the state "
            "where the domain says what it is) or were left out (add them as tools where you can):"
        )
        return "\n".join([head, *lines[:limit], *([f"- ... and {more} more"] if more > 0 else [])])

    def summary(self) -> str:
        """One line: operations, tools by kind, and how many were left out."""
        total = len(self.operations)
        kinds = Counter(o.kind for o in self.operations if o.tool is not None)
        parts = ", ".join(
            f"{count} {kind}" for kind, count in sorted(kinds.items(), key=lambda kv: (-kv[1], str(kv[0])))
        )
        left = len(self.left_out)
        return f"{total} operation(s): {self.tools} tool(s) ({parts}); {left} left out" + (
            f", {len(self.notes)} note(s)" if self.notes else ""
        )
