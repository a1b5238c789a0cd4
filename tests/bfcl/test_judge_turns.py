"""The judge by turns follows BFCL's multi-turn checker: which turns it checks, and how.

BFCL (bfcl_eval's multi_turn_checker) skips a turn whose ground truth makes
no call, fails a checked turn in which the model made no call, compares each
class's public attributes with Python's `==`, and looks for each ground-truth
result among every result the model got so far, not only in that turn.
"""

from __future__ import annotations

from typing import Any

from mcpfactory.runtime import Run, StateView, TurnOutcome, Verdict, judge, parse_task

EMPTY = StateView({}, {})


def _task(calls_per_turn: list[list[str]]) -> Any:
    return parse_task(
        {
            "id": "t",
            "env": "bfcl_math",
            "instruction": "Turn by turn.",
            "user_scenario": {"opening": "Turn 0.", "turns": [f"Turn {n}." for n in range(1, len(calls_per_turn))]},
            "solution": [
                {"tool": tool, "arguments": {}, "turn": turn}
                for turn, tools in enumerate(calls_per_turn)
                for tool in tools
            ],
            "judge": {"kind": "turns", "view": "bfcl"},
        }
    )


def _outcome(view: Any, *results: str) -> TurnOutcome:
    return TurnOutcome({"bfcl_math": view}, results)


def _verdict(task: Any, run: list[TurnOutcome], reference: list[TurnOutcome]) -> Verdict:
    return judge(task, Run(EMPTY, turns=run), initial=EMPTY, reference=EMPTY, reference_turns=reference)


def test_a_turn_the_reference_answers_without_calls_is_not_checked() -> None:
    task = _task([["a"], [], ["b"]])
    reference = [_outcome({"x": 1}, "A"), _outcome({"x": 1}), _outcome({"x": 2}, "B")]
    # In the unchecked turn the agent called something and the view differs; only later turns count.
    run = [_outcome({"x": 1}, "A"), _outcome({"x": 9}, "Z"), _outcome({"x": 2}, "B")]
    verdict = _verdict(task, run, reference)
    assert (verdict.passed, verdict.components["turns"]) == (True, {"passed": 3, "total": 3, "failed": []})
    assert verdict.components["results"] == {"passed": 2, "total": 2}


def test_a_result_got_in_an_earlier_turn_answers_a_later_turns_response_check() -> None:
    task = _task([["a"], ["a", "a"]])
    reference = [_outcome({}, "A"), _outcome({}, "A", "A")]
    # Every check looks at all results so far, so the same "A" answers turn 0 and turn 1.
    early = [_outcome({}, "A", "A"), _outcome({}, "Z")]
    assert _verdict(task, early, reference).passed
    # Within one check each reference result needs a result of its own: one "A" does not answer two.
    once = [_outcome({}, "A"), _outcome({}, "Z")]
    verdict = _verdict(task, once, reference)
    assert (verdict.passed, verdict.failures) == (False, ("turn 1: no call got the result 'A'",))


def test_a_checked_turn_without_a_call_fails_even_when_state_and_results_match() -> None:
    task = _task([["a"], ["a"]])
    reference = [_outcome({}, "A"), _outcome({}, "A")]
    run = [_outcome({}, "A", "A"), _outcome({})]
    verdict = _verdict(task, run, reference)
    assert (verdict.passed, verdict.failures) == (False, ("turn 1: the agent made no call, the reference made 1",))
    assert verdict.components["turns"] == {"passed": 1, "total": 2, "failed": [1]}


def test_views_compare_as_python_compares_the_objects_behind_them() -> None:
    task = _task([["a"]])
    reference = [_outcome({"fuel": 40.0, "on": True, "tags": ["x"], "name": "1"}, "A")]
    same = {"fuel": 40, "on": 1, "tags": ["x"], "name": "1"}
    assert _verdict(task, [_outcome(same, "A")], reference).passed
    for changed in ({**same, "name": 1}, {**same, "tags": ["x", "y"]}, {**same, "fuel": None}, {"fuel": 40.0}):
        verdict = _verdict(task, [_outcome(changed, "A")], reference)
        assert verdict.failures == ("turn 0: bfcl_math's bfcl view differs from the reference run",), changed


def test_every_turn_must_be_reached_even_one_the_reference_leaves_unchecked() -> None:
    task = _task([["a"], []])
    reference = [_outcome({}, "A"), _outcome({})]
    verdict = _verdict(task, [_outcome({}, "A")], reference)
    assert (verdict.passed, verdict.failures) == (False, ("turn 1: never reached",))
