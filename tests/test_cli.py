"""The command line: commands that never call a model do not pay for importing litellm; bad input is one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcpfactory.cli import main
from tests.conftest import REPO

_SCRIPT = """
import sys
from mcpfactory.cli import main
status = main(sys.argv[1:])
heavy = sorted(name for name in ("litellm", "ray", "matplotlib", "datasets") if name in sys.modules)
print("heavy:", ",".join(heavy) or "none")
sys.exit(status)
"""


def test_compile_check_imports_no_model_client() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, "compile", "--check", "servers/todo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "heavy: none"


def test_replay_prints_one_line_per_task(tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    calls.write_text(
        '{"task": "t1", "calls": [{"tool": "list_projects", "arguments": {}}]}\n'
        '{"task": "t2", "calls": [{"tool": "no_such_tool", "arguments": {}}]}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "mcpfactory.cli", "replay", "todo", str(calls)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["task"] for line in lines] == ["t1", "t2"]
    assert "ok" in lines[0]["results"][0]
    assert lines[1]["results"] == [{"error": "Unknown tool: no_such_tool"}]
    assert lines[0]["final_state_sha256"] == lines[1]["final_state_sha256"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\n", "not UTF-8 (byte 1)"),
        (b"[" * 100_000 + b"\n", "not JSON: nested too deeply"),
        (b'{"task": "t", "calls": [{"tool": 3}]}\n', 'expected {"task", "calls": [{"tool", "arguments"}]}'),
    ],
)
def test_a_bad_replay_file_is_one_located_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(content)
    assert main(["replay", "todo", str(path)]) == 2
    assert capsys.readouterr().err == f"mcpfactory replay: {path}:1: {message}\n"
