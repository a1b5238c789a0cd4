"""Facts a conversation states: numbers, dates and text, matched after normalisation.

A judge asks whether the agent *stated* a fact (an amount, a date, a name, the
rule that blocks a request), not whether its words contain a string. Both the
fact and the text are normalised, and matches are whole tokens:

- numbers: currency signs, thousands separators and trailing zeros do not
  matter (`$1,395.67`, `1395.670` and `1395.67` are one number), but a number
  is a whole token, so `615` is not found in `61500`, `6.15` or `$1,615`;
  the words zero to twenty count as numbers; digits inside a date do not;
- dates: ISO (`2024-09-30`) and written forms (`September 30, 2024`,
  `30 Sep 2024`, `Sept. 30th`; a written date without a year matches any year);
- text: case, Unicode width and runs of whitespace do not matter, and the
  text must not be part of a longer word.

A fact is written in a task as a string (a number if it reads as one, a date
if it is an ISO date, else text) or as an object: `{"number": 4850}`,
`{"date": "2024-09-30"}`, `{"text": "Lakeshore Inn"}`, or `{"any": [fact, ...]}`
when any of several statements will do.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, Literal

__all__ = ["Fact", "Statements", "parse_fact"]

FactKind = Literal["number", "date", "text", "any"]

_MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "(?P<{}>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<{}>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<{}>\d{{4}})"
_DATE_PATTERNS = [
    re.compile(r"(?<![\w-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:(?![\w-])|(?=t\d))"),  # and an ISO datetime's date
    # September 30, 2024 / Sept. 30th 2024 / September 30
    re.compile(
        r"(?<!\w)" + _MONTH.format("m") + r"\s+" + _DAY.format("d") + r"(?:,?\s+" + _YEAR.format("y") + r")?(?!\w)"
    ),
    # 30 September 2024 / 30th of Sep / 30 Sep, 2024
    re.compile(
        r"(?<!\w)"
        + _DAY.format("d")
        + r"(?:\s+of)?\s+"
        + _MONTH.format("m")
        + r"(?:,?\s+"
        + _YEAR.format("y")
        + r")?(?!\w)"
    ),
]
_NUMBER = re.compile(
    r"(?<![\w.,$€£])"  # not the tail of a word, a decimal or a grouped number
    r"(?P<sign>(?<![\d])-)?"
    r"[$€£]?\s?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?P<frac>\.\d+)?"
    r"(?![\w]|[.,]\d)"  # not followed by letters or more digits of the same number
)
_WORDS = {
    word: index
    for index, word in enumerate(
        (
            *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
            *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"),
            *("nineteen", "twenty"),
        )
    )
}
_WORD_NUMBER = re.compile(r"(?<![\w-])(" + "|".join(_WORDS) + r")(?![\w-])")
_SPACES = re.compile(r"\s+")
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"})
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES)
    return _SPACES.sub(" ", text.casefold()).strip()


def _number(text: str) -> Decimal | None:
    cleaned = text.strip().replace(",", "").lstrip("$€£").rstrip("%").strip()
    if not re.fullmatch(r"-?\d+(\.\d+)?", cleaned):
        return None
    try:
        return Decimal(cleaned).normalize()
    except InvalidOperation:
        return None


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing a conversation must (or must never) state."""

    kind: FactKind
    value: Any

    def to_json(self) -> Any:
        if self.kind == "any":
            return {"any": [fact.to_json() for fact in self.value]}
        if self.kind == "text":
            return {"text": self.value}
        if self.kind == "date":
            return {"date": self.value.isoformat()}
        number = self.value
        return {"number": int(number) if number == number.to_integral_value() else float(number)}

    def say(self) -> str:
        """A plain statement of the fact, as an agent that knows it would write it."""
        if self.kind == "any":
            first: Fact = self.value[0]
            return first.say()
        if self.kind == "date":
            return str(self.value.isoformat())
        if self.kind == "number":
            return f"{self.value:f}"
        return str(self.value)

    def describe(self) -> str:
        """The fact for a message: `number 4850`, `date 2024-09-30`, `text 'Lakeshore'`."""
        if self.kind == "any":
            return "any of (" + ", ".join(fact.describe() for fact in self.value) + ")"
        if self.kind == "text":
            return f"text {self.value!r}"
        return f"{self.kind} {self.say()}"


def parse_fact(data: Any) -> Fact:
    """Read a fact as tasks write it; raise `ValueError` saying what a fact looks like."""
    if isinstance(data, str):
        if not data.strip():
            raise ValueError("an empty fact matches everything")
        number = _number(data)
        if number is not None:
            return Fact("number", number)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", data.strip()):
            return _date_fact(data.strip())
        return _text_fact(data)
    if isinstance(data, dict) and len(data) == 1:
        ((kind, value),) = data.items()
        if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return Fact("number", Decimal(str(value)).normalize())
        if kind == "date" and isinstance(value, str):
            return _date_fact(value)
        if kind == "text" and isinstance(value, str) and value.strip():
            return _text_fact(value)
        if kind == "any" and isinstance(value, list) and value:
            return Fact("any", tuple(parse_fact(item) for item in value))
    raise ValueError(
        'a fact is a non-empty string, {"number": N}, {"date": "YYYY-MM-DD"}, {"text": "..."} or {"any": [facts]}'
    )


def _date_fact(text: str) -> Fact:
    try:
        return Fact("date", date.fromisoformat(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


def _text_fact(text: str) -> Fact:
    if not _normalise(text):
        raise ValueError("an empty fact matches everything")
    return Fact("text", text.strip())


class Statements:
    """What a set of messages states: their numbers, dates and normalised text, extracted once."""

    def __init__(self, messages: Iterable[str]) -> None:
        self.texts = [_normalise(message) for message in messages if message]

    @cached_property
    def _dates(self) -> tuple[set[date], set[tuple[int, int]], list[str]]:
        """Full dates, year-less (month, day) mentions, and each text with its dates blanked out."""
        full: set[date] = set()
        partial: set[tuple[int, int]] = set()
        blanked: list[str] = []
        for text in self.texts:
            for pattern in _DATE_PATTERNS:
                text = pattern.sub(lambda match: _collect(match, full, partial), text)
            blanked.append(text)
        return full, partial, blanked

    @cached_property
    def _numbers(self) -> set[Decimal]:
        numbers: set[Decimal] = set()
        for text in self._dates[2]:
            for match in _NUMBER.finditer(text):
                digits = match.group("int").replace(",", "") + (match.group("frac") or "")
                value = Decimal(digits).normalize()
                numbers.add(-value if match.group("sign") else value)
            numbers.update(Decimal(_WORDS[word]) for word in _WORD_NUMBER.findall(text))
        return numbers

    def states(self, fact: Fact) -> bool:
        """Whether any of the messages states `fact`."""
        if fact.kind == "any":
            return any(self.states(option) for option in fact.value)
        if fact.kind == "number":
            return bool(fact.value in self._numbers)
        if fact.kind == "date":
            full, partial, _ = self._dates
            return fact.value in full or (fact.value.month, fact.value.day) in partial
        pattern = re.compile(r"(?<!\w)" + re.escape(_normalise(fact.value)) + r"(?!\w)")
        return any(pattern.search(text) for text in self.texts)


def _collect(match: re.Match[str], full: set[date], partial: set[tuple[int, int]]) -> str:
    month_text, day_text, year_text = match.group("m"), match.group("d"), match.group("y")
    month = int(month_text) if month_text.isdigit() else _MONTHS[month_text.rstrip(".")]
    try:
        if year_text:
            full.add(date(int(year_text), month, int(day_text)))
        else:
            date(2000, month, int(day_text))  # a real day of the month (leap year, so Feb 29 counts)
            partial.add((month, int(day_text)))
    except ValueError:
        return match.group(0)  # not a date after all ("May 45"): leave its numbers in the text
    return " "
