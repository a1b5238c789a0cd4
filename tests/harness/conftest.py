"""Fixtures for the harness tests: a compiled fixture catalog (the `ledger` environment) and helpers.

The fixture spec lives in tests/harness/fixtures/ledger/; each test session
compiles it into a temporary catalog package (`harness_catalog`), so the
generated code never drifts from the compiler and nothing generated is
committed.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from harness.connection import Endpoint, open_endpoint
from mcpfactory.runtime import Task, load_tasks, parse_task

FIXTURES = Path(__file__).parent / "fixtures"
CATALOG_PACKAGE = "harness_catalog"


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A catalog folder (an importable package) holding the compiled `ledger` environment."""
    from mcpfactory.compiler import compile_spec

    root = tmp_path_factory.mktemp("catalog") / CATALOG_PACKAGE
    root.mkdir()
    (root / "__init__.py").write_text("")
    shutil.copytree(FIXTURES / "ledger", root / "ledger")
    compile_spec(root / "ledger" / "spec.yaml")
    sys.path.insert(0, str(root.parent))
    yield root
    sys.path.remove(str(root.parent))
    for name in [m for m in sys.modules if m == CATALOG_PACKAGE or m.startswith(CATALOG_PACKAGE + ".")]:
        del sys.modules[name]


@pytest.fixture(scope="session")
def ledger_tasks(catalog: Path) -> list[Task]:
    return load_tasks(catalog / "ledger" / "tasks.jsonl")


@pytest.fixture
def task_by_id(ledger_tasks: list[Task]) -> dict[str, Task]:
    return {task.id: task for task in ledger_tasks}


@pytest.fixture
def ledger(catalog: Path) -> Callable[[], AbstractAsyncContextManager[Endpoint]]:
    """Open the ledger environment in memory, inside the test.

    Not an async fixture: pytest-asyncio may set up and tear down a fixture in
    different tasks, and an endpoint's task group must close where it opened.
    """
    return lambda: open_endpoint("ledger", "memory", catalog=catalog)


def make_task(task_id: str, instruction: str, solution: list[tuple[str, dict[str, Any]]], **judge: Any) -> Task:
    """A ledger task built in a test."""
    return parse_task(
        {
            "id": task_id,
            "env": "ledger",
            "instruction": instruction,
            "solution": [{"tool": tool, "arguments": args} for tool, args in solution],
            "judge": judge,
        }
    )
