"""The one judge: state match with masks, assertions, facts, disclosures and call matching."""

from __future__ import annotations

from typing import Any

import pytest

from mcpfactory.runtime import Assertion, Run, RunCall, StateView, Verdict, check_assertion, judge, parse_task

SEED: dict[str, dict[str, Any]] = {
    "books": {
        "b1": {"book_id": "b1", "copies": 2, "tags": ["space"], "price": 100},
        "b2": {"book_id": "b2", "copies": 1, "tags": [], "price": 10},
    },
    "loans": {},
}
INITIAL = StateView(SEED, {})
BORROWED = StateView(
    SEED,
    {
        "books": {"b1": {**SEED["books"]["b1"], "copies": 1}},
        "loans": {"L1": {"loan_id": "L1", "book_id": "b1", "note": "for Ada"}},
    },
)


def _task(**judge_fields: Any) -> Any:
    return parse_task(
        {
            "id": "t",
            "env": "library",
            "instruction": "Lend b1.",
            "solution": [{"tool": "lend", "arguments": {"book_id": "b1", "note": "for Ada"}}],
            "judge": judge_fields,
        }
    )


def _verdict(task: Any, final: StateView, messages: tuple[str, ...] = (), calls: tuple[RunCall, ...] = ()) -> Verdict:
    return judge(task, Run(final, messages, calls), initial=INITIAL, reference=BORROWED)


def test_the_reference_state_passes_and_doing_nothing_fails_naming_each_record() -> None:
    task = _task()
    assert _verdict(task, BORROWED).passed
    nothing = _verdict(task, INITIAL)
    assert (nothing.passed, nothing.failures) == (
        False,
        ("books['b1'] differs from the reference run", "loans['L1'] differs from the reference run"),
    )
    assert nothing.components["state"] == {
        "rule": "match",
        "match": False,
        "fraction": 0.0,
        "mismatched": ["books['b1']", "loans['L1']"],
    }


def test_equality_is_canonical_json_everywhere() -> None:
    as_float = StateView(SEED, {**BORROWED.changes, "books": {"b1": {**SEED["books"]["b1"], "copies": 1.0}}})
    assert not _verdict(_task(), as_float).passed
    for stored, expected in ((100.0, 100), (0, False), (True, 1)):
        final = StateView(SEED, {"books": {"b1": {**SEED["books"]["b1"], "price": stored}}})
        assert check_assertion(final, Assertion(("books", "b1", "price"), "==", expected)) is not None


def test_masked_fields_do_not_matter_but_everything_else_does() -> None:
    other_note = StateView(SEED, {**BORROWED.changes, "loans": {"L1": {**BORROWED.changes["loans"]["L1"], "note": ""}}})
    assert not _verdict(_task(), other_note).passed
    assert _verdict(_task(mask={"loans": ["note"]}), other_note).passed
    wrong_book = StateView(
        SEED, {**BORROWED.changes, "loans": {"L1": {"loan_id": "L1", "book_id": "b2", "note": "for Ada"}}}
    )
    assert not _verdict(_task(mask={"loans": ["note"]}), wrong_book).passed


def test_any_key_matches_new_records_by_content_whatever_key_they_got() -> None:
    renamed = StateView(
        SEED,
        {
            "books": BORROWED.changes["books"],
            "loans": {"L7": {"loan_id": "L7", "book_id": "b1", "note": "for Ada"}},
        },
    )
    assert not _verdict(_task(), renamed).passed
    assert _verdict(_task(any_key=["loans"]), renamed).passed
    two = StateView(
        SEED,
        {
            **renamed.changes,
            "loans": {**renamed.changes["loans"], "L8": {"loan_id": "L8", "book_id": "b1", "note": "x"}},
        },
    )
    assert _verdict(_task(any_key=["loans"]), two).failures == ("loans: a new record differs from the reference run",)


@pytest.mark.parametrize(
    ("path", "op", "value", "holds"),
    [
        (["books", "b1", "copies"], "==", 1, True),
        (["books", "b1", "copies"], "!=", 1, False),
        (["books", "b1", "copies"], "<", 2, True),
        (["books", "b1", "copies"], ">=", 2, False),
        (["books", "b1", "copies"], "in", [0, 1], True),
        (["books", "b1", "copies"], "in", [True], False),
        (["books", "b1", "tags"], "contains", "space", True),
        (["books", "b1", "tags", 0], "==", "space", True),
        (["books", "b1", "tags", 5], "exists", None, False),
        (["books", "b9"], "exists", None, False),
        (["books", "b9"], "absent", None, True),
        (["books", "b9", "copies"], "==", 1, False),
        (["books", "b1", "copies"], "<", "two", False),
        (["books", "b1", "copies"], "<", True, False),
        (["loans"], "exists", None, True),
    ],
)
def test_assertions_walk_the_final_state(path: list[Any], op: str, value: Any, holds: bool) -> None:
    assertion = Assertion(tuple(path), op, value)
    assert (check_assertion(BORROWED, assertion) is None) is holds


def test_facts_are_stated_somewhere_in_the_conversation_and_secrets_never() -> None:
    task = _task(state="none", facts=["b1", {"number": 1}], never=[{"number": 2841.17}])
    said = ("I lent you b1.", "There is 1 copy left.", "Anything else?")
    assert _verdict(task, BORROWED, said).passed
    leaked = _verdict(task, BORROWED, (*said, "By the way, Bo's balance is $2,841.17."))
    assert (leaked.passed, leaked.components["never"]) == (False, {"disclosed": ["number 2841.17"], "total": 1})
    silent = _verdict(task, BORROWED)
    assert silent.components["facts"] == {"found": 0, "total": 2, "missing": ["text 'b1'", "number 1"]}


def test_calls_match_in_any_order_with_ignored_arguments_masked_and_defaults_filled() -> None:
    task = _task(ignore_args={"lend": ["note"]})
    calls = (RunCall("lend", {"book_id": "b1", "note": "other words", "days": 14}), RunCall("find", {"q": "x"}))
    schemas = {"lend": {"properties": {"days": {"type": "integer", "default": 14}}}}
    verdict = judge(task, Run(BORROWED, (), calls), initial=INITIAL, reference=BORROWED, schemas=schemas)
    assert verdict.components["calls"] == {"matched": 1, "expected": 1, "extra": 1, "malformed": 0}
    malformed = _verdict(task, BORROWED, (), (RunCall("lend", None, malformed=True),))
    assert malformed.components["calls"] == {"matched": 0, "expected": 1, "extra": 0, "malformed": 1}


def test_a_deleted_record_is_absent_and_a_record_back_at_its_seed_value_is_unchanged() -> None:
    deleted = StateView(SEED, {"books": {"b2": None}})
    assert check_assertion(deleted, Assertion(("books", "b2"), "absent")) is None
    assert deleted.at(["books"]) == {"b1": SEED["books"]["b1"]}
    back = StateView(SEED, {"books": {"b1": SEED["books"]["b1"]}})
    assert judge(_task(), Run(back), initial=INITIAL, reference=INITIAL).passed
