"""The broken-spec corpus and the fixtures the verifier's tests run on."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcpfactory.compiler import compile_spec

HERE = Path(__file__).parent
BROKEN = HERE / "broken"
FIXTURES = HERE / "fixtures"
LIBRARY = FIXTURES / "library"  # the clean spec every broken case changes in one place
SHOP = FIXTURES / "shop"  # a 15-tool environment with tasks

CATCH_RATE: dict[str, tuple[int, int]] = {}


@dataclass(frozen=True)
class BrokenCase:
    """One deliberately broken spec and the check meant to catch it."""

    name: str
    folder: Path
    check: str
    bug: str

    @property
    def tamper(self) -> Path | None:
        """Code appended to the generated server.py: a hand-edited server, for bugs no spec can express."""
        path = self.folder / "hand_edit.txt"
        return path if path.exists() else None

    def target(self, scratch: Path) -> Path:
        """What to verify: the spec folder, or a compiled and hand-edited copy of it."""
        if self.tamper is None:
            return self.folder
        copy = scratch / self.name
        shutil.copytree(self.folder, copy)
        compile_spec(copy / "spec.yaml")
        with (copy / "server.py").open("a", encoding="utf-8") as server:
            server.write("\n\n# Hand edit, for the verifier's corpus:\n" + self.tamper.read_text(encoding="utf-8"))
        return copy


def broken_cases() -> list[BrokenCase]:
    cases = []
    for folder in sorted(p for p in BROKEN.iterdir() if (p / "case.json").exists()):
        meta = json.loads((folder / "case.json").read_text(encoding="utf-8"))
        cases.append(BrokenCase(folder.name, folder, meta["check"], meta["bug"]))
    return cases


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "corpus" in CATCH_RATE:
        caught, total = CATCH_RATE["corpus"]
        terminalreporter.write_line(
            f"verifier catch rate on the broken-spec corpus: {caught}/{total} ({100 * caught / total:.0f}%)"
        )
