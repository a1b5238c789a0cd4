"""Shared fixtures: the repository root, the catalog, and compiling specs into importable packages."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CATALOG = REPO / "servers"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Soak tests (thousands of episodes over HTTP) run only when asked: MCPFACTORY_SOAK=1."""
    if os.environ.get("MCPFACTORY_SOAK") == "1":
        return
    skip = pytest.mark.skip(reason="soak test; set MCPFACTORY_SOAK=1 to run")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


def catalog_envs() -> list[str]:
    """Environments with a spec and a compiled server in the catalog."""
    return sorted(p.parent.name for p in CATALOG.glob("*/spec.yaml") if (p.parent / "server.py").exists())


@pytest.fixture
def compile_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Return a function that compiles a spec text into an importable package and imports its server."""
    from mcpfactory.compiler import compile_spec

    monkeypatch.syspath_prepend(str(tmp_path))
    imported: list[str] = []

    def compile_text(text: str, name: str = "envpkg", data: dict[str, str] | None = None) -> ModuleType:
        folder = tmp_path / name
        (folder / "data").mkdir(parents=True, exist_ok=True)
        for file_name, content in (data or {}).items():
            (folder / "data" / file_name).write_text(content)
        (folder / "spec.yaml").write_text(text)
        compile_spec(folder / "spec.yaml")
        module = importlib.import_module(f"{name}.server")
        imported.extend([name, f"{name}.server"])
        return module

    yield compile_text
    for module in imported:
        sys.modules.pop(module, None)
