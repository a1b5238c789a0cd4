"""The verified manifest, `servers/verified.json`: which environments passed, for which spec, by which verifier.

```json
{
  "verifier_version": "0.1.0+verify.1",
  "environments": {
    "todo": {
      "status": "verified",
      "spec_sha256": "…",
      "verifier_version": "0.1.0+verify.1",
      "seed": 0,
      "checks": {"static": "passed", "protocol": "passed", "…": "…"}
    },
    "hotel": {
      "status": "quarantined",
      "spec_sha256": "…",
      "…": "…",
      "failures": [{"check": "fuzz", "summary": "…", "evidence": ["…"]}]
    }
  }
}
```

The harness and the catalog read it as data: an environment is usable when its
entry says `verified` and its `spec_sha256` is the current spec's. No
timestamps, sorted keys: the file changes only when a verdict does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mcpfactory
from mcpfactory.catalog import catalog_root
from mcpfactory.errors import SpecError
from mcpfactory.spec import load_spec
from mcpfactory.verify._report import EnvReport, Status

__all__ = ["MANIFEST_NAME", "VERIFIER_VERSION", "is_verified", "manifest_path", "read_manifest", "record_reports"]

MANIFEST_NAME = "verified.json"
VERIFIER_VERSION = f"{mcpfactory.__version__}+verify.1"


def manifest_path(root: Path | None = None) -> Path:
    return (root or catalog_root()) / MANIFEST_NAME


def read_manifest(path: Path | None = None) -> dict[str, Any]:
    """Read the manifest; an absent file is an empty manifest."""
    path = path or manifest_path()
    if not path.exists():
        return {"verifier_version": VERIFIER_VERSION, "environments": {}}
    data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("environments", {})
    return dict(data)


def entry(report: EnvReport) -> dict[str, Any]:
    """The manifest entry of one report: verified, or quarantined with what failed."""
    item: dict[str, Any] = {
        "status": "verified" if report.ok else "quarantined",
        "spec_sha256": report.spec_sha256,
        "verifier_version": VERIFIER_VERSION,
        "seed": report.seed,
        "checks": {check.name: check.status.value for check in report.checks},
    }
    if not report.ok:
        item["failures"] = [
            {"check": c.name, "summary": c.summary, "evidence": list(c.evidence)}
            for c in report.checks
            if c.status is Status.FAILED
        ]
    return item


def record_reports(reports: Iterable[EnvReport], path: Path | None = None) -> Path:
    """Write each report's entry into the manifest (others are kept), atomically; return its path."""
    path = path or manifest_path()
    data = read_manifest(path)
    data["verifier_version"] = VERIFIER_VERSION
    for report in reports:
        data["environments"][report.env] = entry(report)
    data["environments"] = dict(sorted(data["environments"].items()))
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(scratch, path)
    return path


def is_verified(env: str, root: Path | None = None) -> bool:
    """Whether `env` passed the verifier for its current spec (its spec and seed data unchanged since)."""
    root = root or catalog_root()
    item = read_manifest(manifest_path(root))["environments"].get(env)
    if not item or item.get("status") != "verified":
        return False
    try:
        current = load_spec(root / env / "spec.yaml").sha256
    except (SpecError, OSError):
        return False
    return bool(item.get("spec_sha256") == current)
