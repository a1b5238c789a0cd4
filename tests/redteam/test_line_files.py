"""Hostile tasks and replay files: each is one located line on stderr and exit status 2, at once.

The spec corpus (cases/) covers specs and seed files; these are the JSONL
files `mcpfactory rollout --tasks` and `mcpfactory replay` read. A file that
never ends or never opens (a FIFO with no writer, a device) is refused before
it is opened, a file past the size bound before it is read whole.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpfactory.cli import main
from mcpfactory.runtime._tasks import read_lines_file

COMMANDS = {
    "replay": lambda path: ["replay", "todo", str(path)],
    "rollout": lambda path: ["rollout", "--env", "todo", "--tasks", str(path)],
}
# Where each command places a problem with the file as a whole (a line is `{path}:N: ` in both).
WHOLE_FILE = {"replay": "{path}: ", "rollout": "{path}:0: "}


def _answer(command: str, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(COMMANDS[command](path))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="this system has no FIFOs")
@pytest.mark.timeout(60)  # opening a FIFO with no writer would wait forever; this bounds a regression, it times nothing
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_fifo_with_no_writer_is_refused_without_being_opened(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "calls.jsonl"
    os.mkfifo(path)
    prefix = WHOLE_FILE[command].format(path=path)
    assert _answer(command, path, capsys) == (2, "", f"mcpfactory {command}: {prefix}cannot read: not a regular file\n")


def test_a_folder_named_as_the_replay_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "calls.jsonl"
    path.mkdir()  # (rollout reads a tasks folder as every *.jsonl file in it)
    assert _answer("replay", path, capsys) == (2, "", f"mcpfactory replay: {path}: cannot read: a folder, not a file\n")


def _int_conversion_error(digits: int) -> str:
    try:
        int("9" * digits)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"Python converts {digits} digits")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01\x02binary\n", "not JSON: Expecting value at column 1"),
        (b'{"task": "t", "calls": []}\xff\n', "not UTF-8 (byte 27)"),
        (b'{"n": ' + b"9" * 5_000 + b"}\n", f"not JSON: {_int_conversion_error(5_000)}"),
    ],
    ids=["binary", "not_utf8_at_the_end", "five_thousand_digit_number"],
)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_hostile_line_is_one_located_line(
    command: str, content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(content)
    assert _answer(command, path, capsys) == (2, "", f"mcpfactory {command}: {path}:1: {message}\n")


def test_a_file_past_the_size_bound_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b"{}\n" * 1000)
    assert read_lines_file(path, limit=3000) == b"{}\n" * 1000
    with pytest.raises(ValueError) as caught:
        read_lines_file(path, limit=2999)
    assert str(caught.value) == "larger than 2,999 bytes"
