"""The task judge: state rules, assertions and outputs, as docs/tasks.md defines them."""

from __future__ import annotations

from typing import Any

import pytest

from mcpfactory.verify._judge import StateView, judge
from mcpfactory.verify._tasks import Assertion, Judge

SEED: dict[str, dict[str, Any]] = {
    "books": {
        "b1": {"book_id": "b1", "copies": 2, "tags": ["space"]},
        "b2": {"book_id": "b2", "copies": 1, "tags": []},
    },
    "members": {"m1": {"member_id": "m1", "loans": []}},
}
INITIAL = StateView(SEED, {})
BORROWED = StateView(SEED, {"books": {"b1": {"book_id": "b1", "copies": 1, "tags": ["space"]}}})
OTHER = StateView(SEED, {"books": {"b2": {"book_id": "b2", "copies": 0, "tags": []}}})


def verdict(rule: Judge, final: StateView, answer: str = "") -> tuple[bool, tuple[str, ...]]:
    result = judge(rule, initial=INITIAL, final=final, reference=BORROWED, answer=answer)
    return result.passed, result.failures


def test_touched_state_compares_every_record_either_run_changed() -> None:
    assert verdict(Judge(state="touched"), BORROWED) == (True, ())
    assert verdict(Judge(state="touched"), INITIAL) == (False, ("books['b1'] differs from the reference run",))
    assert verdict(Judge(state="touched"), OTHER) == (
        False,
        ("books['b1'] differs from the reference run", "books['b2'] differs from the reference run"),
    )


def test_state_none_ignores_the_state() -> None:
    assert verdict(Judge(state="none"), OTHER) == (True, ())


def test_full_state_compares_everything() -> None:
    assert verdict(Judge(state="full"), BORROWED)[0]
    assert not verdict(Judge(state="full"), INITIAL)[0]


@pytest.mark.parametrize(
    ("path", "op", "value", "holds"),
    [
        (["books", "b1", "copies"], "==", 1, True),
        (["books", "b1", "copies"], "!=", 1, False),
        (["books", "b1", "copies"], "<", 2, True),
        (["books", "b1", "copies"], ">=", 2, False),
        (["books", "b1", "copies"], "in", [0, 1], True),
        (["books", "b1", "tags"], "contains", "space", True),
        (["books", "b1", "tags", 0], "==", "space", True),
        (["books", "b9"], "exists", None, False),
        (["books", "b9"], "absent", None, True),
        (["books", "b9", "copies"], "==", 1, False),
        (["books", "b1", "copies"], "<", "two", False),
    ],
)
def test_assertions_walk_the_final_state(path: list[Any], op: str, value: Any, holds: bool) -> None:
    rule = Judge(state="none", assertions=(Assertion(tuple(path), op, value),))
    assert verdict(rule, BORROWED)[0] is holds


def test_outputs_must_appear_in_the_answer_whatever_the_case() -> None:
    rule = Judge(state="none", outputs=("Dune", "two copies"))
    assert verdict(rule, BORROWED, "You borrowed DUNE; TWO COPIES were left.") == (True, ())
    assert verdict(rule, BORROWED, "Done.") == (
        False,
        ("the answer does not mention 'Dune'", "the answer does not mention 'two copies'"),
    )


def test_a_deleted_record_is_absent() -> None:
    deleted = StateView(SEED, {"books": {"b2": None}})
    rule = Judge(state="none", assertions=(Assertion(("books", "b2"), "absent"),))
    assert verdict(rule, deleted) == (True, ())
    assert deleted.at(["books"]) == {"b1": SEED["books"]["b1"]}
