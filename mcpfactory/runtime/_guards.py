"""Guards for operations a CPU-time alarm cannot interrupt: regular expressions and integer powers.

A body's `import re` compiles to `from mcpfactory.runtime import guarded_re as
re` (the module `guarded_re`, built on these checks), and `x ** y` with a
non-literal exponent to `_power(x, y)`:

- `guarded_re` refuses patterns prone to exponential backtracking (a repeat
  of something that can itself repeat or match in more than one way, such as
  `(a+)+`, `(a|aa)*`, `(\\w+\\s?)*`; backreferences), and subjects longer than
  `MAX_SUBJECT` characters. Patterns come from specs, seed data and agents'
  arguments alike, so the check runs when a pattern is compiled (and is cached
  with it). A refused pattern raises `UnsafePattern`: a bug of the
  environment (a fault), which the verifier's fuzz check surfaces.
- `power` refuses integer results larger than `MAX_POWER_BITS` bits before
  computing them.
"""

from __future__ import annotations

import functools
import importlib
import re as _re
from collections.abc import Callable
from typing import Any, AnyStr, overload

# The standard library's own pattern parser (public as sre_parse before 3.11, now re._parser).
_sre_parse: Any = importlib.import_module("re._parser")
_sre_constants: Any = importlib.import_module("re._constants")

__all__ = ["MAX_POWER_BITS", "MAX_SUBJECT", "UnsafePattern", "compile_checked", "power", "subject"]

MAX_SUBJECT = 100_000
"""Longest string a guarded regular expression is matched against."""

MAX_POWER_BITS = 1_000_000
"""Largest integer, in bits, that `power` computes."""


class UnsafePattern(ValueError):
    """A regular expression refused because it could backtrack exponentially, or a subject too long."""


_REPEATS = {_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT, getattr(_sre_constants, "POSSESSIVE_REPEAT", None)}


def _width_varies(items: Any) -> bool:
    low, high = items.getwidth()
    return bool(low != high)


_PROBE = [chr(code) for code in range(256)]


def _single(op: Any, argument: Any) -> set[str] | None:
    """The characters (of the first 256) one single-character element matches, or None if it is not one."""
    if op is _sre_constants.LITERAL:
        return {chr(argument)}
    if op is _sre_constants.NOT_LITERAL:
        return {c for c in _PROBE if ord(c) != argument}
    if op is _sre_constants.IN:
        return {c for c in _PROBE if _in_set(argument, c)}
    return None


def _in_set(items: Any, char: str) -> bool:
    negate = False
    found = False
    for op, argument in items:
        if op is _sre_constants.NEGATE:
            negate = True
        elif op is _sre_constants.LITERAL:
            found |= ord(char) == argument
        elif op is _sre_constants.RANGE:
            found |= argument[0] <= ord(char) <= argument[1]
        elif op is _sre_constants.CATEGORY:
            test = _CATEGORIES.get(str(argument))
            found |= True if test is None else test(char)
        else:
            found = True  # anything else: assume it may match (the check stays conservative)
    return found != negate


_CATEGORIES: dict[str, Callable[[str], bool]] = {
    "CATEGORY_DIGIT": str.isdigit,
    "CATEGORY_NOT_DIGIT": lambda c: not c.isdigit(),
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_NOT_SPACE": lambda c: not c.isspace(),
    "CATEGORY_WORD": lambda c: c.isalnum() or c == "_",
    "CATEGORY_NOT_WORD": lambda c: not (c.isalnum() or c == "_"),
}


def _delimited(body: Any) -> bool:
    """Whether each repetition of `body` starts with a character none of its inner repeats can match.

    Then where one repetition ends and the next begins is never in doubt
    (`(\\.[a-z]+)*`, `(,\\d{3})*`), and backtracking stays linear.
    """
    items = list(body)
    if not items:
        return False
    first = _single(*items[0])
    if first is None:
        return False
    for op, argument in items[1:]:
        if op in _REPEATS:
            inner = list(argument[2])
            chars = _single(*inner[0]) if len(inner) == 1 else None
            if chars is None or chars & first:
                return False
        elif op is not _sre_constants.LITERAL and op is not _sre_constants.IN:
            return False
    return True


def _check(parsed: Any, inside_unbounded: bool) -> str | None:
    for op, argument in parsed:
        if op in _REPEATS:
            _low, high, item = argument
            if inside_unbounded and high > 1:
                return "a repeat inside an unbounded repeat"
            unbounded = high == _sre_constants.MAXREPEAT
            body = item
            if len(item) == 1 and item[0][0] is _sre_constants.SUBPATTERN:
                body = item[0][1][-1]
            if unbounded and _delimited(body):
                continue  # the inner repeats cannot run into the delimiter: linear
            problem = _check(item, inside_unbounded or unbounded)
            if problem:
                return problem
        elif op is _sre_constants.SUBPATTERN:
            problem = _check(argument[-1], inside_unbounded)
            if problem:
                return problem
        elif op is _sre_constants.BRANCH:
            branches = argument[1]
            if inside_unbounded and any(_width_varies(branch) or branch.getwidth()[0] != 1 for branch in branches):
                return "an alternation of more than single characters inside an unbounded repeat"
            for branch in branches:
                problem = _check(branch, inside_unbounded)
                if problem:
                    return problem
        elif op in (_sre_constants.GROUPREF, getattr(_sre_constants, "GROUPREF_EXISTS", None)):
            return "a backreference"
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            problem = _check(argument[1], inside_unbounded)
            if problem:
                return problem
    return None


@functools.lru_cache(maxsize=512)
def compile_checked(pattern: str | bytes, flags: int = 0) -> _re.Pattern[Any]:
    """Compile `pattern`, refusing it (`UnsafePattern`) if it may backtrack exponentially."""
    problem = _check(_sre_parse.parse(pattern, flags), False)
    if problem:
        raise UnsafePattern(f"pattern {pattern!r} may backtrack exponentially ({problem})")
    return _re.compile(pattern, flags)


def subject(text: AnyStr) -> AnyStr:
    """Return `text`, refusing (`UnsafePattern`) one longer than `MAX_SUBJECT`."""
    if len(text) > MAX_SUBJECT:
        raise UnsafePattern(f"a regular expression was given {len(text)} characters (at most {MAX_SUBJECT})")
    return text


@overload
def power(base: int, exponent: int) -> int: ...
@overload
def power(base: float, exponent: float) -> float: ...
def power(base: float, exponent: float) -> float:
    """`base ** exponent`, refusing integer results of more than `MAX_POWER_BITS` bits before computing them."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 1 and base not in (0, 1, -1):
        bits = (abs(base).bit_length() - 1) * exponent
        if bits > MAX_POWER_BITS:
            raise OverflowError(f"{base} ** {exponent} would have about {bits} bits (at most {MAX_POWER_BITS})")
    result: float = base**exponent
    return result
