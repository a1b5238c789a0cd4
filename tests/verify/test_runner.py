"""The runner: parallel workers, a budget per environment, and what it kills."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpfactory.errors import UnknownEnvironment, UsageError
from mcpfactory.verify import Options, Status, verify_env, verify_envs
from tests.verify.conftest import BROKEN, LIBRARY

STUCK = """\
name: stuck
description: One tool whose body is stuck inside a single C call, beyond any per-call interrupt.
collections:
  counters:
    record: Counter
    key: counter_id
    fields: {counter_id: str, value: int}
    seed: [{counter_id: c1, value: 0}]
tools:
  count_everything:
    description: Count to ten trillion.
    effect: read
    returns: int
    body: |
      return sum(range(10 ** 13))
    examples:
      - args: {}
        returns: 0
"""


def test_a_worker_past_its_budget_is_killed_and_the_running_check_fails(tmp_path: Path) -> None:
    (tmp_path / "stuck").mkdir()
    (tmp_path / "stuck" / "spec.yaml").write_text(STUCK, encoding="utf-8")
    report = verify_env(tmp_path / "stuck", budget=5, checks=["examples", "fuzz"])
    statuses = {c.name: c.status for c in report.checks}
    assert statuses == {"static": Status.PASSED, "examples": Status.FAILED, "fuzz": Status.SKIPPED}
    assert report.check("examples").summary.startswith("killed after")
    assert not report.ok


def test_environments_are_verified_in_parallel_and_reported_in_order() -> None:
    targets = [BROKEN / "static_unknown_type", LIBRARY, BROKEN / "static_forbidden_import"]
    reports = verify_envs(targets, options=Options(budget=20), checks=["examples"], jobs=3)
    assert [r.target for r in reports] == [str(t) for t in targets]
    assert [r.ok for r in reports] == [False, True, False]
    assert reports[0].check("examples").status is Status.SKIPPED


def test_an_unknown_environment_is_refused_before_anything_starts() -> None:
    with pytest.raises(UnknownEnvironment, match="no environment 'atlantis'"):
        verify_env("atlantis")


def test_an_unknown_check_is_refused_before_anything_starts() -> None:
    with pytest.raises(UsageError, match="unknown check"):
        verify_env(LIBRARY, checks=["vibes"])
