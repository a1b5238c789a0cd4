"""`compile --standalone`: a copy-anywhere server folder that runs with only the MCP SDK installed.

The interpreter that runs it sees the standard library and a folder holding
exactly the `mcp` distribution and its dependencies (copied from this
environment's installed files, so the test needs no network): not mcpfactory,
not ruamel.yaml, not anything else of the project's own dependencies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import anyio
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from packaging.requirements import Requirement

from tests.conftest import REPO

GOLDEN_LIBRARY = REPO / "tests" / "mcpfactory" / "golden" / "library" / "spec.yaml"


def _closure(name: str) -> list[metadata.Distribution]:
    """`name`'s distribution and every distribution it requires, with the extras they ask for."""
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    todo: list[tuple[str, str]] = [(name, "")]
    while todo:
        wanted, extra = todo.pop()
        dist = metadata.distribution(wanted)
        key = dist.metadata["Name"].lower().replace("_", "-")
        if (key, extra) in seen:
            continue
        seen.add((key, extra))
        found[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                todo += [(requirement.name, wanted_extra) for wanted_extra in ("", *requirement.extras)]
    return list(found.values())


@pytest.fixture(scope="module")
def sdk_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the `mcp` distribution and its dependencies, and nothing else."""
    target = tmp_path_factory.mktemp("sdk")
    for dist in _closure("mcp"):
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if file.parts[0] == ".." or not source.is_file():
                continue  # console scripts and the like live outside site-packages
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
    return target


def test_standalone_server_needs_nothing_but_the_sdk_to_import(tmp_path: Path, sdk_only: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpfactory.cli",
            "compile",
            "--standalone",
            str(GOLDEN_LIBRARY),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert (tmp_path / "library" / "_runtime" / "__init__.py").is_file(), done.stdout
    probe = (
        "import sys, library.server as s; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mcpfactory', 'ruamel', 'hypothesis', 'litellm'}))"
    )
    ran = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{sdk_only}", "PATH": ""},
    )
    assert (ran.returncode, ran.stdout.strip()) == (0, "[]"), ran.stderr


async def test_standalone_server_answers_over_stdio_with_only_the_sdk(tmp_path: Path, sdk_only: Path) -> None:
    from mcpfactory.compiler import compile_standalone

    compile_standalone(GOLDEN_LIBRARY, tmp_path)
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-S", "-m", "library"],
        cwd=str(tmp_path),
        env={"PYTHONPATH": f"{tmp_path}:{sdk_only}", "PATH": ""},
    )
    with anyio.fail_after(60):
        async with Client(stdio_client(parameters), mode="legacy") as client:
            tools = await client.list_tools()
            found = await client.call_tool("find_book", {"title": "Dune"})
    assert "find_book" in {tool.name for tool in tools.tools}
    assert not found.is_error
    assert json.loads(found.content[0].text)["title"] == "Dune"  # type: ignore[union-attr]


def test_standalone_refuses_to_overwrite_a_folder_it_did_not_write(tmp_path: Path) -> None:
    from mcpfactory.compiler import compile_standalone
    from mcpfactory.errors import CompileError

    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "notes.txt").write_text("mine")
    with pytest.raises(CompileError):
        compile_standalone(GOLDEN_LIBRARY, tmp_path)
    assert (tmp_path / "library" / "notes.txt").read_text() == "mine"
