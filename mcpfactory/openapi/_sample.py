"""Plausible, deterministic values for shapes: seed records, example arguments and canned responses.

A value comes from the document where it fits the shape (its `example`, its
`default`), else from the field's name and format (`email`, `date-time`,
`city`), else from the kind, and always satisfies the shape's constraints: a
`pattern` is met by a string built from the regular expression itself. When a
constraint cannot be met (a pattern this generator cannot follow), the
sampler says so and the caller drops the constraint rather than ship a seed
that breaks it.
"""

from __future__ import annotations

import math
import re
from re import _constants as sre  # the stdlib's regex syntax tree, as re itself reads it
from re import _parser
from typing import Any

from mcpfactory.openapi._shape import NO_VALUE, Shape, fits

__all__ = ["Sampler"]

_FIRST = ("Maria", "James", "Aiko", "Omar", "Lena", "Kofi", "Ines")
_LAST = ("Escobito", "Franklin", "Tanaka", "Haddad", "Novak", "Mensah", "Duarte")
_NAMES = ("Luna", "Atlas", "Bella", "Milo", "Nala", "Orion", "Pixel")
_CITIES = ("Madison", "Lyon", "Osaka", "Porto", "Accra", "Tartu", "Cusco")
_TEXTS = ("Annual check-up.", "Needs a follow-up.", "Second request.", "Priority handling.", "Routine.")
_WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove")


class Sampler:
    """Values for shapes; `dropped` lists (shape, constraint) pairs it had to give up."""

    def __init__(self) -> None:
        self.dropped: list[tuple[str, str]] = []

    def value(self, shape: Shape, name: str, index: int, depth: int = 0) -> Any:
        """A value of `shape` for a field called `name`, varying with `index` (1-based)."""
        if shape.example is not NO_VALUE and index == 1 and shape.example is not None and fits(shape, shape.example):
            return shape.example
        if shape.default is not NO_VALUE and index == 2 and shape.default is not None and fits(shape, shape.default):
            return shape.default
        value = self._fresh(shape, name, index, depth)
        if value is not None and not fits(shape.without_null(), value):
            for key in ("pattern", "format", "multiple_of", "min_length", "max_length"):
                if key in shape.constraints:
                    del shape.constraints[key]
                    self.dropped.append((name, key))
                    if fits(shape.without_null(), value):
                        break
        return value

    def _fresh(self, shape: Shape, name: str, index: int, depth: int) -> Any:
        kind = shape.kind
        if kind == "literal":
            return shape.values[(index - 1) % len(shape.values)]
        if kind == "str":
            return self._string(shape, name, index)
        if kind == "int":
            return _integer(shape.constraints, index)
        if kind == "float":
            return _float(shape.constraints, index)
        if kind == "bool":
            return index % 2 == 1
        if kind == "list":
            assert shape.item is not None
            low = shape.constraints.get("min_items", 0)
            high = shape.constraints.get("max_items")
            count = max(low, 1 if depth < 2 else 0)
            if high is not None:
                count = min(count, high)
            return [self.value(shape.item, _singular(name), index + i, depth + 1) for i in range(count)]
        if kind == "dict":
            return {}
        if kind == "object":
            out: dict[str, Any] = {}
            for prop, spec in shape.fields.items():
                if spec.required or depth == 0:
                    out[prop] = self.value(spec.shape, prop, index, depth + 1)
            return out
        if kind == "union":
            variant = shape.variants[(index - 1) % len(shape.variants)]
            return self.value(variant, name, index, depth)
        return f"{name} {index}"

    def _string(self, shape: Shape, name: str, index: int) -> str:
        constraints = shape.constraints
        pattern = constraints.get("pattern")
        if pattern is not None:
            text = regex_sample(pattern, index)
            if text is not None:
                return _fit_length(text, constraints, pattern)
        text = _by_name(name, constraints.get("format"), index)
        return _fit_length(text, constraints, None)


def _by_name(name: str, form: str | None, index: int) -> str:
    lower = name.lower()
    first, last = _FIRST[(index - 1) % len(_FIRST)], _LAST[(index - 1) % len(_LAST)]
    day = f"2024-{(index % 9) + 1:02d}-{10 + index % 18:02d}"
    if form == "date" or (lower.endswith("date") and form != "date-time"):
        return day
    if form == "date-time" or lower.endswith(("_at", "time", "timestamp")):
        return f"{day}T09:{index % 60:02d}:00Z"
    if form == "time":
        return f"09:{index % 60:02d}:00"
    if form == "uuid" or lower.endswith("uuid"):
        return f"00000000-0000-4000-8000-{index:012d}"
    if form in ("uri", "url", "uri-reference") or lower.endswith(("url", "uri", "link", "href")):
        return f"https://example.com/{_WORDS[(index - 1) % len(_WORDS)]}/{index}"
    if form == "email" or "email" in lower:
        return f"{first.lower()}.{last.lower()}@example.com"
    if form in ("ipv4", "ip"):
        return f"192.0.2.{index % 250 + 1}"
    if form == "ipv6":
        return f"2001:db8::{index}"
    if form == "hostname":
        return f"host{index}.example.com"
    if "phone" in lower:
        return f"+1 608 555 01{index % 100:02d}"
    if lower in ("firstname", "first_name", "given_name", "givenname"):
        return first
    if lower in ("lastname", "last_name", "family_name", "surname", "familyname"):
        return last
    if "name" in lower:
        return _NAMES[(index - 1) % len(_NAMES)]
    if "city" in lower:
        return _CITIES[(index - 1) % len(_CITIES)]
    if "country" in lower:
        return ("US", "FR", "JP", "PT", "GH", "EE", "PE")[(index - 1) % 7]
    if "currency" in lower:
        return ("USD", "EUR", "JPY")[(index - 1) % 3]
    if "street" in lower or "address" in lower:
        return f"{100 + 10 * index} Main St"
    if "postal" in lower or "zip" in lower:
        return f"5370{index % 10}"
    if any(word in lower for word in ("reason", "description", "note", "comment", "summary", "message", "text")):
        return _TEXTS[(index - 1) % len(_TEXTS)]
    if "password" in lower or "secret" in lower or "token" in lower:
        return f"s3cret-{index}"
    return f"{name or 'value'} {index}" if len(name) < 40 else f"value {index}"


def _fit_length(text: str, constraints: dict[str, Any], pattern: str | None) -> str:
    low, high = constraints.get("min_length"), constraints.get("max_length")
    if pattern is not None:
        return text  # a pattern's own sample is not padded: padding could break it
    if low is not None and len(text) < low:
        text = text + "x" * (low - len(text))
    if high is not None and len(text) > high:
        text = text[: max(high, 0)]
    return text


def _integer(constraints: dict[str, Any], index: int) -> int:
    low = constraints.get("minimum")
    if "exclusive_minimum" in constraints:
        low = max(low if low is not None else -math.inf, math.floor(constraints["exclusive_minimum"]) + 1)
    high = constraints.get("maximum")
    if "exclusive_maximum" in constraints:
        high = min(high if high is not None else math.inf, math.ceil(constraints["exclusive_maximum"]) - 1)
    start = math.ceil(low) if low is not None and low != -math.inf else 0
    value = start + index
    step = constraints.get("multiple_of")
    if isinstance(step, int) and step > 0:
        value = (value // step + 1) * step
    if high is not None and high != math.inf and value > high:
        value = math.floor(high)
        if isinstance(step, int) and step > 0:
            value = value // step * step
    return int(value)


def _float(constraints: dict[str, Any], index: int) -> float | int:
    low = constraints.get("minimum", constraints.get("exclusive_minimum"))
    high = constraints.get("maximum", constraints.get("exclusive_maximum"))
    step = constraints.get("multiple_of")
    base = float(low) if low is not None else 0.0
    value: float = base + 1.5 * index + 0.25
    if step:
        value = math.ceil(value / step) * step
    if high is not None and value >= high:
        span = float(high) - base
        value = base + span / 2 if span > 0 else base
        if step:
            value = math.floor(value / step) * step
    return round(value, 6) if not step else value


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def regex_sample(pattern: str, index: int) -> str | None:
    """A string that `re.search(pattern, ...)` accepts, built from the pattern's syntax tree; `None` if unsure."""
    try:
        tree = _parser.parse(pattern)
        text = _render(list(tree), index, 0)
    except (re.error, _Unsupported, RecursionError, IndexError, ValueError, TypeError):
        return None
    if text is None or len(text) > 2000 or re.search(pattern, text) is None:
        return None
    return text


class _Unsupported(Exception):
    pass


def _render(items: list[tuple[Any, Any]], index: int, depth: int) -> str:
    if depth > 20:
        raise _Unsupported
    out: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            out.append(chr(arg))
        elif op is sre.NOT_LITERAL:
            out.append("a" if chr(arg) != "a" else "b")
        elif op is sre.ANY:
            out.append("a")
        elif op is sre.IN:
            out.append(_from_set(arg, index))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", object())):
            low, high, sub = arg
            count = max(low, 1)
            if high != sre.MAXREPEAT:
                count = min(count, high)
            out.extend(_render(list(sub), index + i, depth + 1) for i in range(count))
        elif op is sre.SUBPATTERN:
            out.append(_render(list(arg[-1]), index, depth + 1))
        elif hasattr(sre, "ATOMIC_GROUP") and op is sre.ATOMIC_GROUP:
            out.append(_render(list(arg), index, depth + 1))
        elif op is sre.BRANCH:
            branches = arg[1]
            out.append(_render(list(branches[(index - 1) % len(branches)]), index, depth + 1))
        elif op is sre.AT:
            continue
        elif op is sre.CATEGORY:
            out.append(_category(arg))
        else:
            raise _Unsupported
    return "".join(out)


def _category(category: Any) -> str:
    if category is sre.CATEGORY_DIGIT:
        return "7"
    if category is sre.CATEGORY_SPACE:
        return " "
    if category is sre.CATEGORY_WORD:
        return "k"
    if category is sre.CATEGORY_NOT_DIGIT:
        return "k"
    if category in (sre.CATEGORY_NOT_SPACE, sre.CATEGORY_NOT_WORD):
        return "k" if category is sre.CATEGORY_NOT_SPACE else "-"
    raise _Unsupported


def _from_set(items: list[tuple[Any, Any]], index: int) -> str:
    if items and items[0][0] is sre.NEGATE:
        excluded = set()
        for op, arg in items[1:]:
            if op is sre.LITERAL:
                excluded.add(chr(arg))
            elif op is sre.RANGE:
                excluded |= {chr(c) for c in range(arg[0], min(arg[1], arg[0] + 512) + 1)}
        for candidate in "kqzx7_-":
            if candidate not in excluded:
                return candidate
        raise _Unsupported
    choices: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            choices.append(chr(arg))
        elif op is sre.RANGE:
            low, high = arg
            choices.append(chr(low + (index - 1) % (high - low + 1)))
        elif op is sre.CATEGORY:
            choices.append(_category(arg))
    if not choices:
        raise _Unsupported
    return choices[(index - 1) % len(choices)]
