"""Facts, not substrings: what a conversation states, matched after normalising numbers, dates and text.

The table is the matcher's specification; each row is a message, a fact and
whether the message states it. The first rows are the cases that substring
matching got wrong.
"""

from __future__ import annotations

from typing import Any

import pytest

from mcpfactory.runtime import Statements, parse_fact

CASES: list[tuple[str, Any, bool]] = [
    # Too strict as substrings: the same number or date written another way.
    ("The total is $1395.67.", "1,395.67", True),
    ("You owe $4850, due 2024-09-30.", "4,850.00", True),
    ("You owe $4850, due 2024-09-30.", {"date": "2024-09-30"}, True),
    ("Payment is due September 30.", {"date": "2024-09-30"}, True),
    ("Payment is due Sept. 30th, 2024.", {"date": "2024-09-30"}, True),
    ("Payment is due 30 Sep 2024.", {"date": "2024-09-30"}, True),
    ("The deadline is 2024-11-02T14:00:00.", {"date": "2024-11-02"}, True),
    ("It costs 1,000 dollars.", {"number": 1000}, True),
    ("It costs $12.50 a night.", "12.5", True),
    ("Interest is 15%.", "15", True),
    ("You have two bookings.", {"number": 2}, True),
    # Too loose as substrings: a number inside another number is not that number.
    ("Your stay costs $1,358.00.", "358", False),
    ("You have 61500 points.", "615", False),
    ("You have 61,500 points, worth $615.", "615", True),
    ("That is 6.15 per unit.", "615", False),
    ("The room was 101.", "101", True),
    ("Check in on 2024-09-30.", {"number": 30}, False),
    ("The temperature is -5 degrees.", {"number": 5}, False),
    ("Pick 10-20 items.", {"number": 20}, True),
    ("It is May 45.", {"number": 45}, True),
    # Text: case and spacing do not matter; a longer word is not the text.
    ("The LAKESHORE   Inn has rooms.", "Lakeshore Inn", True),
    ("The Lakeshores have rooms.", "Lakeshore", False),
    ("Order #W2378156 was cancelled.", "#W2378156", True),
    ("Order W2378156 was cancelled.", "#W2378156", False),
    ("It is “cancelled”.", {"text": "cancelled"}, True),
    # Alternatives.
    ("It is 2024-10-01.", {"any": [{"date": "2024-09-30"}, {"date": "2024-10-01"}]}, True),
    ("Nothing relevant here.", {"any": ["358", {"text": "sold out"}]}, False),
]


@pytest.mark.parametrize(("message", "fact", "stated"), CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_the_matcher_states_what_each_message_says(message: str, fact: Any, stated: bool) -> None:
    assert Statements([message]).states(parse_fact(fact)) is stated


def test_facts_are_judged_over_every_message_not_only_the_last() -> None:
    statements = Statements(["Your balance is $2,841.17.", "You're welcome!"])
    assert statements.states(parse_fact("2841.17"))


@pytest.mark.parametrize(
    ("written", "kind"),
    [("615", "number"), ("$1,395.67", "number"), ("2024-09-30", "date"), ("Lakeshore", "text"), ("W-2", "text")],
)
def test_a_plain_string_fact_reads_as_the_kind_it_looks_like(written: str, kind: str) -> None:
    assert parse_fact(written).kind == kind


@pytest.mark.parametrize("bad", ["", "   ", {"number": "5"}, {"date": "30/09/2024"}, {"any": []}, {"x": 1}, 5, None])
def test_a_fact_that_is_not_one_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_fact(bad)
