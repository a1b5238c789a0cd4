"""Rewards: the one judge's verdict blended into a number, under each rule, with penalties."""

from __future__ import annotations

from typing import Any

import pytest

from harness.reward import RewardConfig, reward_of
from mcpfactory.runtime import Run, RunCall, StateView, Verdict, judge

from .conftest import make_task

SEED = {"accounts": {"a1": {"id": "a1", "n": 3}, "a2": {"id": "a2", "n": 0}}}
DONE = StateView(SEED, {"accounts": {"a1": {"id": "a1", "n": 5}}})
INITIAL = StateView(SEED, {})
SOLUTION = [("find", {"q": "a"}), ("put", {"id": "a1", "n": 5})]


def verdict(
    final: StateView, *, calls: tuple[RunCall, ...] = (), said: tuple[str, ...] = (), **judge_fields: Any
) -> Verdict:
    task = make_task("t", "do it", SOLUTION, **judge_fields)
    return judge(task, Run(final, said, calls), initial=INITIAL, reference=DONE)


def test_all_or_nothing_is_one_exactly_when_the_verdict_passes() -> None:
    rule = RewardConfig()
    assert reward_of(verdict(DONE, facts=["5"], said=("n is 5",)), rule).total == 1.0
    assert reward_of(verdict(DONE, facts=["5"], said=("n is five",)), rule).total == 1.0
    assert reward_of(verdict(DONE, facts=["5"], said=("done",)), rule).total == 0.0
    assert reward_of(verdict(INITIAL, facts=["5"], said=("n is 5",)), rule).total == 0.0


def test_success_is_the_verdicts_whatever_the_rule() -> None:
    for rule in ("all_or_nothing", "blend", "partial"):
        partial = reward_of(verdict(INITIAL, calls=(RunCall("find", {"q": "a"}),)), RewardConfig(rule=rule))
        assert partial.success is False
        assert reward_of(verdict(DONE), RewardConfig(rule=rule)).success is True


def test_partial_credit_averages_the_components_and_subtracts_penalties() -> None:
    assertions = [
        {"path": ["accounts", "a1", "n"], "op": "==", "value": 5},
        {"path": ["accounts", "a1", "n"], "op": "==", "value": 6},
    ]
    calls = (RunCall("find", {"q": "a"}), RunCall("put", None, malformed=True))
    result = reward_of(
        verdict(DONE, calls=calls, state="none", assertions=assertions),
        RewardConfig(rule="partial", malformed_call_penalty=0.1),
    )
    assert result.total == pytest.approx((0.5 + 0.5) / 2 - 0.1)
    assert result.components["penalty"] == pytest.approx(0.1)


def test_the_blend_weighs_outcome_against_trace_and_clips_at_zero() -> None:
    config = RewardConfig(rule="blend", state_weight=0.75, trace_weight=0.25, extra_call_penalty=0.5)
    assert reward_of(verdict(DONE, calls=(RunCall("find", {"q": "a"}),)), config).total == pytest.approx(
        0.75 * 1.0 + 0.25 * 0.5
    )
    extra = (RunCall("find", {"q": "zz"}),) * 3
    assert reward_of(verdict(DONE, calls=extra), config).total == 0.0


def test_a_disclosure_zeroes_every_rule() -> None:
    leaked = verdict(DONE, never=[{"number": 2841.17}], said=("Bo has $2,841.17.",))
    for rule in ("all_or_nothing", "blend", "partial"):
        assert reward_of(leaked, RewardConfig(rule=rule)).total == 0.0
