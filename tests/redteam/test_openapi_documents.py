"""Hostile OpenAPI documents for `mcpfactory import openapi`: each is one line naming the file, never a traceback.

A FIFO with no writer is refused before it is opened (opening it would wait
forever); nesting past the parser's stack and numbers Python will not convert
are reported as what they are.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpfactory.cli import main


def _int_conversion_error(digits: int) -> str:
    try:
        int("9" * digits)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"Python converts {digits} digits")


def _import(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["import", "openapi", str(path), "--out", str(tmp_path / "servers")])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="this system has no FIFOs")
@pytest.mark.timeout(60)  # opening a FIFO with no writer would wait forever; this bounds a regression, it times nothing
def test_a_fifo_is_refused_without_being_opened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "api.json"
    os.mkfifo(path)
    assert _import(path, tmp_path, capsys) == (
        1,
        "",
        f"mcpfactory import: {path}: the document is not a regular file\n",
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("deep.json", b"[" * 100_000, "not valid JSON: nested too deeply"),
        ("deep.yaml", b"a: " + b"[" * 100_000, "not valid YAML: nested too deeply"),
        ("digits.json", b'{"n": ' + b"9" * 5_000 + b"}", f"not valid JSON: {_int_conversion_error(5_000)}"),
        ("latin1.yaml", b"openapi: 3.0.0\ninfo: {title: caf\xe9}\n", "the document is not UTF-8 "
         "(invalid continuation byte, from byte 0xe9) (save it as UTF-8) at line 2 column 18"),
        ("binary.json", b"\x00\x01", "the document holds a NUL byte: it is a binary file, not UTF-8 text"),
    ],
    ids=["deep_json", "deep_yaml", "five_thousand_digit_number", "latin1", "binary"],
)  # fmt: skip
def test_a_hostile_document_is_one_line_naming_the_file(
    name: str, content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert _import(path, tmp_path, capsys) == (1, "", f"mcpfactory import: {path}: {message}\n")
