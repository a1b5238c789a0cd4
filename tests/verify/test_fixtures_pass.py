"""Correct environments pass every check: the verifier does not cry wolf."""

from __future__ import annotations

from mcpfactory.verify import CHECK_NAMES, EnvReport, Options, Status, verify_env, verify_envs
from tests.verify.conftest import LIBRARY, SHOP


def test_a_correct_fifteen_tool_environment_passes_every_check() -> None:
    report = verify_env(SHOP, budget=60)
    outcome = {c.name: (c.status.value, c.summary, c.evidence) for c in report.checks}
    assert [c.name for c in report.checks] == list(CHECK_NAMES)
    assert all(c.status is Status.PASSED for c in report.checks if c.name != "lifecycle"), outcome
    lifecycle = report.check("lifecycle")
    assert (lifecycle.status, lifecycle.summary) == (
        Status.SKIPPED,
        "not an imported API (no import-report.json beside the spec)",
    )
    assert report.ok
    assert report.env == "shop"
    assert report.spec_sha256 is not None and len(report.spec_sha256) == 64
    fuzz = report.check("fuzz")
    assert fuzz.stats["calls"] > 200
    assert fuzz.stats["tools_never_succeeded"] == []
    assert report.check("tasks").stats["tasks"] == 7
    assert EnvReport.from_json(report.to_json()).to_json() == report.to_json()


def test_the_same_seed_gives_the_same_report() -> None:
    def verdicts(seed: int) -> list[tuple[str, str, str]]:
        reports = verify_envs([LIBRARY, LIBRARY], options=Options(seed=seed, budget=30), checks=["fuzz", "isolation"])
        return [(c.name, c.status.value, c.summary) for report in reports for c in report.checks]

    first = verdicts(11)
    assert first[:3] == first[3:]
    assert first == verdicts(11)
