"""`mcpfactory import openapi DIR --out-root OUT [--verify] [--jobs N]`: a folder in one go, resumable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mcpfactory.cli import main
from mcpfactory.openapi._batch import RESULTS, TABLE, import_folder
from tests.openapi.conftest import PETCLINIC


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    documents = tmp_path / "documents"
    documents.mkdir()
    shutil.copy(PETCLINIC, documents / "a-petclinic.yaml")
    (documents / "b-empty.json").write_text(json.dumps({"openapi": "3.0.0", "info": {"title": "x"}, "paths": {}}))
    (documents / "c-not-openapi.json").write_text("[1, 2")
    (documents / "notes.txt").write_text("not a document")
    return documents


def test_a_folder_is_imported_and_verified_and_every_document_gets_a_row(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = import_folder(folder, out, verify=True, jobs=2, budget=120, start_bound=60)
    rows = {row["document"]: row for row in result.rows}
    assert sorted(rows) == ["a-petclinic.yaml", "b-empty.json", "c-not-openapi.json"]
    clinic = rows["a-petclinic.yaml"]
    assert (clinic["imported"], clinic["operations"], clinic["tools"], clinic["reported"]) == (True, 17, 17, 0)
    assert clinic["verified"] is True, clinic.get("failed_checks")
    assert rows["b-empty.json"]["error"].endswith("/paths: the document has no paths")
    assert rows["c-not-openapi.json"]["imported"] is False
    assert (out / "a_petclinic" / "import-report.json").exists()
    assert result.summary() == (
        "1/3 document(s) imported; 17/17 operation(s) became tools (0 stub(s)), 0 reported with a reason; 1/1 verified"
    )
    table = (out / TABLE).read_text().splitlines()
    assert table[:2] == [
        "| document | operations | tools | reported | verified | time (s) |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    assert table[2].startswith("| a-petclinic.yaml | 17 | 17 | 0 | yes | ")


def test_a_batch_started_again_skips_what_it_finished(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = import_folder(folder, out, jobs=1)
    lines = (out / RESULTS).read_text().splitlines()
    again = import_folder(folder, out, jobs=1)
    assert (first.resumed, again.resumed) == (0, 3)
    assert (out / RESULTS).read_text().splitlines() == lines
    assert again.rows == first.rows


def test_the_import_command_takes_a_folder_and_prints_the_summary(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["import", "openapi", str(folder), "--out-root", str(out), "--jobs", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1/3 document(s) imported; 17/17 operation(s) became tools (0 stub(s)), 0 reported with a reason",
        f"table: {out / TABLE}",
    ]
