"""`re` as tool bodies see it: the same functions, over patterns checked for exponential backtracking.

The compiler turns a body's `import re` into `from mcpfactory.runtime import
guarded_re as re` (and `from re import X` into `from
mcpfactory.runtime.guarded_re import X`). Patterns that may backtrack
exponentially, and subjects longer than `MAX_SUBJECT` characters, raise
`UnsafePattern` (see `mcpfactory.runtime._guards`).
"""

from __future__ import annotations

import re as _re
from collections.abc import Callable, Iterator
from typing import Any

from ._guards import MAX_SUBJECT, UnsafePattern, compile_checked, subject

__all__ = [
    "ASCII",
    "DOTALL",
    "IGNORECASE",
    "MAX_SUBJECT",
    "MULTILINE",
    "VERBOSE",
    "A",
    "M",
    "Match",
    "Pattern",
    "S",
    "UnsafePattern",
    "X",
    "compile",
    "error",
    "escape",
    "findall",
    "finditer",
    "fullmatch",
    "match",
    "search",
    "split",
    "sub",
    "subn",
]

IGNORECASE = _re.IGNORECASE
MULTILINE = M = _re.MULTILINE
DOTALL = S = _re.DOTALL
VERBOSE = X = _re.VERBOSE
ASCII = A = _re.ASCII
Pattern = _re.Pattern
Match = _re.Match
error = _re.error
escape = _re.escape

Replacement = str | Callable[[_re.Match[str]], str]


def compile(pattern: str, flags: int = 0) -> _re.Pattern[str]:
    return compile_checked(pattern, int(flags))


def match(pattern: str, string: str, flags: int = 0) -> _re.Match[str] | None:
    return compile_checked(pattern, int(flags)).match(subject(string))


def fullmatch(pattern: str, string: str, flags: int = 0) -> _re.Match[str] | None:
    return compile_checked(pattern, int(flags)).fullmatch(subject(string))


def search(pattern: str, string: str, flags: int = 0) -> _re.Match[str] | None:
    return compile_checked(pattern, int(flags)).search(subject(string))


def findall(pattern: str, string: str, flags: int = 0) -> list[Any]:
    return compile_checked(pattern, int(flags)).findall(subject(string))


def finditer(pattern: str, string: str, flags: int = 0) -> Iterator[_re.Match[str]]:
    return compile_checked(pattern, int(flags)).finditer(subject(string))


def split(pattern: str, string: str, maxsplit: int = 0, flags: int = 0) -> list[str | Any]:
    return compile_checked(pattern, int(flags)).split(subject(string), maxsplit)


def sub(pattern: str, repl: Replacement, string: str, count: int = 0, flags: int = 0) -> str:
    return compile_checked(pattern, int(flags)).sub(repl, subject(string), count)


def subn(pattern: str, repl: Replacement, string: str, count: int = 0, flags: int = 0) -> tuple[str, int]:
    return compile_checked(pattern, int(flags)).subn(repl, subject(string), count)
