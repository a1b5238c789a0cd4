"""`mcpfactory verify`: a table, a JSON report, the manifest, and an exit status that says whether all passed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mcpfactory.cli import main
from mcpfactory.compiler import compile_spec
from tests.verify.conftest import BROKEN, LIBRARY


def test_verify_prints_a_row_per_check_and_exits_zero_when_all_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    status = main(["verify", str(LIBRARY), "--check", "examples", "--json", str(out), "--no-manifest"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "examples" in printed and "all 10 examples hold" in printed
    assert "1 of 1 environments verified" in printed
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert [c["name"] for c in payload["reports"][0]["checks"]] == ["static", "examples"]


def test_verify_exits_non_zero_and_shows_the_evidence_when_a_check_fails(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["verify", str(BROKEN / "static_unknown_type"), "--no-manifest"])
    printed = capsys.readouterr().out
    assert status == 1
    assert "unknown type 'strng'" in printed
    assert "quarantined: static_unknown_type" in printed


def test_verify_records_catalog_environments_in_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = tmp_path / "servers"
    shutil.copytree(LIBRARY, servers / "library")
    (servers / "__init__.py").write_text("", encoding="utf-8")
    compile_spec(servers / "library" / "spec.yaml")
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "--budget", "30"]) == 0
    manifest = json.loads((servers / "verified.json").read_text(encoding="utf-8"))
    assert manifest["environments"]["library"]["status"] == "verified"
    assert "manifest:" in capsys.readouterr().out


def test_verify_refuses_an_unknown_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "atlantis", "--no-manifest"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mcpfactory verify: no environment 'atlantis' in the catalog ")
    assert err.rstrip().endswith("tau_retail, todo)")
