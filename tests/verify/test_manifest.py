"""servers/verified.json: what passed, for which spec; a failing environment is quarantined with its report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mcpfactory.spec import load_spec
from mcpfactory.verify import (
    VERIFIER_VERSION,
    CheckResult,
    EnvReport,
    Status,
    is_verified,
    read_manifest,
    record_reports,
)
from tests.verify.conftest import LIBRARY


def report(env: str, sha: str, failed: bool = False) -> EnvReport:
    checks = (
        CheckResult("static", Status.PASSED, "spec loads"),
        CheckResult("fuzz", Status.FAILED if failed else Status.PASSED, "1 violation" if failed else "ok", ("x",)),
        CheckResult("tasks", Status.SKIPPED, "no tasks.jsonl"),
    )
    return EnvReport(env=env, target=env, spec_sha256=sha, seed=0, checks=checks)


def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "servers"
    shutil.copytree(LIBRARY, root / "library")
    (root / "__init__.py").write_text("", encoding="utf-8")
    return root


def test_a_passing_environment_is_recorded_as_verified_for_its_spec(tmp_path: Path) -> None:
    root = catalog(tmp_path)
    sha = load_spec(root / "library" / "spec.yaml").sha256
    path = record_reports([report("library", sha)], root / "verified.json")
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "verifier_version": VERIFIER_VERSION,
        "environments": {
            "library": {
                "status": "verified",
                "spec_sha256": sha,
                "verifier_version": VERIFIER_VERSION,
                "seed": 0,
                "checks": {"static": "passed", "fuzz": "passed", "tasks": "skipped"},
            }
        },
    }
    assert is_verified("library", root)


def test_a_failing_environment_is_quarantined_with_what_failed(tmp_path: Path) -> None:
    root = catalog(tmp_path)
    record_reports([report("library", "0" * 64, failed=True)], root / "verified.json")
    entry = read_manifest(root / "verified.json")["environments"]["library"]
    assert entry["status"] == "quarantined"
    assert entry["failures"] == [{"check": "fuzz", "summary": "1 violation", "evidence": ["x"]}]
    assert not is_verified("library", root)


def test_an_entry_for_an_older_spec_no_longer_counts(tmp_path: Path) -> None:
    root = catalog(tmp_path)
    sha = load_spec(root / "library" / "spec.yaml").sha256
    record_reports([report("library", sha), report("other", "1" * 64)], root / "verified.json")
    spec = root / "library" / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.0.1"), encoding="utf-8")
    assert not is_verified("library", root)
    assert list(read_manifest(root / "verified.json")["environments"]) == ["library", "other"]
