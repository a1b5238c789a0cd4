"""Fixtures for the BFCL tests: the installed bfcl-eval (skipped with a clear message without it) and its import."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpfactory.bfcl import BFCL_EVAL_VERSION, BFCLError, BFCLSource, import_bfcl
from mcpfactory.runtime import Task, load_tasks
from tests.conftest import CATALOG


@pytest.fixture(scope="session")
def source() -> BFCLSource:
    """The installed bfcl-eval; the test is skipped (saying how to install it) when it is missing or another release."""
    try:
        return BFCLSource()
    except BFCLError as exc:
        pytest.skip(f"needs bfcl-eval {BFCL_EVAL_VERSION}: {exc}")


@pytest.fixture(scope="session")
def imported(source: BFCLSource, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding every multi-turn category, imported once for the session."""
    out = tmp_path_factory.mktemp("bfcl")
    import_bfcl(out, source=source, root=CATALOG)
    return out


@pytest.fixture(scope="session")
def tasks(imported: Path) -> dict[str, Task]:
    """The imported tasks by id."""
    return {task.id: task for task in load_tasks(imported)}
