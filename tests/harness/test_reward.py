"""Rewards: assertions, state comparison, call matching with masked arguments, blend rules and penalties."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from harness.connection import ToolSpec
from harness.reward import CallOutcome, Reference, RewardConfig, check_assertion, score
from harness.tasks import Assertion, Task

from .conftest import make_task

SEED = {"accounts": {"a1": {"id": "a1", "tags": ["x", "y"], "n": 3}, "a2": {"id": "a2", "tags": [], "n": 0}}}
CHANGES = {"accounts": {"a1": {"id": "a1", "tags": ["x", "z"], "n": 5}, "a2": None}}


@pytest.mark.parametrize(
    ("path", "op", "value", "expected"),
    [
        (["accounts", "a1", "n"], "==", 5, True),
        (["accounts", "a1", "n"], "!=", 3, True),
        (["accounts", "a1", "n"], "<", 6, True),
        (["accounts", "a1", "n"], ">=", 6, False),
        (["accounts", "a1", "tags", 1], "==", "z", True),
        (["accounts", "a1", "tags", 5], "exists", None, False),
        (["accounts", "a1", "tags"], "contains", "z", True),
        (["accounts", "a1", "n"], "in", [4, 5], True),
        (["accounts", "a2"], "absent", None, True),
        (["accounts", "a2", "n"], "==", 0, False),
        (["accounts", "a9"], "exists", None, False),
        (["accounts", "a1", "n"], "<", "text", False),
        (["accounts"], "exists", None, True),
    ],
)
def test_assertions_read_the_final_state_as_seed_overlaid_with_changes(
    path: list[Any], op: str, value: Any, expected: bool
) -> None:
    assert check_assertion(Assertion(tuple(path), op, value), CHANGES, SEED) is expected


TOOLS = [
    ToolSpec(
        "find",
        "",
        {"type": "object", "properties": {"q": {"type": "string"}, "limit": {"type": "integer", "default": 10}}},
    ),
    ToolSpec("put", "", {"type": "object", "properties": {"id": {"type": "string"}, "why": {"type": "string"}}}),
]


async def judge(
    task: Task,
    *,
    calls: list[CallOutcome] | None = None,
    changes: Mapping[str, Any] | None = None,
    reference: Mapping[str, Any] | None = None,
    answer: str = "",
    config: RewardConfig | None = None,
) -> tuple[float, dict[str, Any]]:
    async def seed() -> Mapping[str, Any]:
        return SEED

    result = await score(
        task,
        answer=answer,
        calls=calls or [],
        changes=changes or {},
        final_hash=None,
        reference=Reference(changes=reference or {}, state_sha256=None, answer=""),
        seed=seed,
        tools=TOOLS,
        config=config or RewardConfig(),
    )
    return result.total, dict(result.components)


SOLUTION = [("find", {"q": "a"}), ("put", {"id": "a1", "why": "because"})]


async def test_reference_calls_match_in_any_order_with_defaults_filled_and_ignored_arguments_masked() -> None:
    task = make_task("t", "do it", SOLUTION, ignore_args={"put": ["why"]})
    calls = [CallOutcome("put", {"id": "a1", "why": "other words"}), CallOutcome("find", {"q": "a", "limit": 10})]
    _, components = await judge(task, calls=calls)
    assert components["calls"] == {"matched": 2, "expected": 2, "extra": 0, "malformed": 0}


async def test_extra_and_malformed_calls_are_counted_and_injected_ones_are_not() -> None:
    task = make_task("t", "do it", SOLUTION)
    calls = [
        CallOutcome("find", {"q": "a"}),
        CallOutcome("find", {"q": "b"}),
        CallOutcome("put", None, malformed=True),
        CallOutcome("put", {"id": "a1", "why": "because"}, injected=True),
    ]
    _, components = await judge(task, calls=calls)
    assert components["calls"] == {"matched": 1, "expected": 2, "extra": 1, "malformed": 1}


async def test_all_or_nothing_needs_the_state_every_assertion_and_every_output() -> None:
    task = make_task(
        "t",
        "do it",
        SOLUTION,
        assertions=[{"path": ["accounts", "a1", "n"], "op": "==", "value": 5}],
        outputs=["Five"],
    )
    assert (await judge(task, changes=CHANGES, reference=CHANGES, answer="n is five"))[0] == 1.0
    assert (await judge(task, changes=CHANGES, reference=CHANGES, answer="n is 5"))[0] == 0.0
    assert (await judge(task, changes={}, reference=CHANGES, answer="five"))[0] == 0.0


async def test_a_record_written_back_to_its_seed_value_matches_an_untouched_one() -> None:
    task = make_task("t", "do it", [])
    same_as_seed = {"accounts": {"a1": SEED["accounts"]["a1"]}}
    total, components = await judge(task, changes=same_as_seed, reference={})
    assert (total, components["state"]["match"]) == (1.0, True)


async def test_the_state_mismatch_names_the_records_that_differ() -> None:
    task = make_task("t", "do it", [])
    _, components = await judge(task, changes=CHANGES, reference={"accounts": {"a2": None}})
    assert components["state"] == {"rule": "touched", "match": False, "fraction": 0.5, "mismatched": ["accounts/a1"]}


async def test_partial_credit_averages_the_components_and_subtracts_penalties() -> None:
    task = make_task(
        "t",
        "do it",
        SOLUTION,
        assertions=[
            {"path": ["accounts", "a1", "n"], "op": "==", "value": 5},
            {"path": ["accounts", "a1", "n"], "op": "==", "value": 6},
        ],
        state="none",
    )
    config = RewardConfig(rule="partial", malformed_call_penalty=0.1)
    calls = [CallOutcome("find", {"q": "a"}), CallOutcome("put", None, malformed=True)]
    total, _ = await judge(task, calls=calls, changes=CHANGES, config=config)
    assert total == pytest.approx((0.5 + 0.5) / 2 - 0.1)


async def test_the_blend_weighs_outcome_against_trace_and_clips_at_zero() -> None:
    task = make_task("t", "do it", SOLUTION)
    config = RewardConfig(rule="blend", state_weight=0.75, trace_weight=0.25, extra_call_penalty=0.5)
    total, _ = await judge(task, calls=[CallOutcome("find", {"q": "a"})], config=config)
    assert total == pytest.approx(0.75 * 1.0 + 0.25 * 0.5)
    extra = [CallOutcome("find", {"q": "zz"})] * 3
    assert (await judge(task, calls=extra, config=config))[0] == 0.0
