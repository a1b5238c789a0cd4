"""A verifier that cannot fail is worthless: every deliberately broken spec is caught by the check meant for it."""

from __future__ import annotations

from collections import Counter

import pytest

from mcpfactory.verify import CHECK_NAMES, EnvReport, Options, Status, verify_envs
from tests.verify.conftest import CATCH_RATE, LIBRARY, BrokenCase, broken_cases

CASES = broken_cases()

# The module's fixture verifies the whole corpus (32 specs) in one go, and the verifier's budgets stretch with the
# machine's load so that its verdicts do not depend on it; the hang guard gives that setup room on a busy machine.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EnvReport]:
    """Verify the whole corpus once, in parallel, each case with static and its intended check."""
    scratch = tmp_path_factory.mktemp("corpus")
    targets = [str(case.target(scratch)) for case in CASES]
    checks = {target: [case.check] for target, case in zip(targets, CASES, strict=True)}
    found = verify_envs(targets, options=Options(budget=30, start_bound=8), checks=checks)
    return {case.name: report for case, report in zip(CASES, found, strict=True)}


def test_the_corpus_holds_at_least_twenty_cases_and_reaches_every_check() -> None:
    assert len(CASES) >= 20
    assert set(Counter(case.check for case in CASES)) == set(CHECK_NAMES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_broken_spec_is_caught_by_the_check_meant_for_it(case: BrokenCase, reports: dict[str, EnvReport]) -> None:
    result = reports[case.name].check(case.check)
    assert result.status is Status.FAILED, f"not caught: {case.bug} ({result.status.value}: {result.summary})"
    assert result.evidence, "a failure names its evidence"


def test_the_catch_rate_is_complete(reports: dict[str, EnvReport]) -> None:
    caught = sum(reports[case.name].check(case.check).status is Status.FAILED for case in CASES)
    CATCH_RATE["corpus"] = (caught, len(CASES))
    assert caught == len(CASES)


def test_the_clean_spec_the_cases_break_passes_every_check() -> None:
    (report,) = verify_envs([LIBRARY], options=Options(budget=30))
    failed = {c.name: (c.status.value, c.summary) for c in report.checks if c.status is not Status.PASSED}
    assert failed == {"lifecycle": ("skipped", "not an imported API (no import-report.json beside the spec)")}
