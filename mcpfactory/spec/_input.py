"""Read a spec or a seed file within bounds: size, encoding, nesting depth, alias expansion, number length.

Specs come from models and from people we do not know. Every way a file can be
bad is answered here with an `InputProblem` at a line and column, before the
YAML or JSON parser could spend minutes or recurse past the stack on it:

- a file that is not a regular file, or larger than its bound, is not read;
- a UTF-8 byte order mark is skipped; a UTF-16 or UTF-32 file, a NUL byte
  (a binary file) or bytes that are not UTF-8 are refused where they start;
- YAML is parsed event by event before anything is built from it: nesting past
  `MAX_DEPTH`, aliases that would expand past `MAX_NODES` nodes (the "billion
  laughs"), numbers longer than `MAX_NUMBER_CHARS`, explicit tags
  (`!!python/object`, `!!binary`, `!!set`, ...), directives and keys that are
  not plain text are refused at the node that breaks the bound (libyaml
  checks the events first where PyYAML has it, so a document too large is
  refused in a fraction of a second rather than after seconds of pure-Python
  parsing);
- JSON seed data is parsed with Python's C parser, and only when it holds
  something out of bounds (nesting, a duplicate key, a non-finite or
  over-long number) is it scanned again to say where.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.parser import RoundTripParser

from mcpfactory.spec._text import printable

__all__ = [
    "MAX_DATA_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_NUMBER_CHARS",
    "MAX_SPEC_BYTES",
    "InputProblem",
    "load_json",
    "load_yaml",
    "read_text",
]

MAX_SPEC_BYTES = 8 * 1024 * 1024  # the largest spec our OpenAPI importer writes (GitHub REST) is 3.5 MiB
MAX_DATA_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000  # YAML nodes after expanding every alias (the GitHub import has 153,379)
MAX_NUMBER_CHARS = 100

_OTHER_BOMS = [
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
]
_UTF8_BOM = b"\xef\xbb\xbf"
_NUMBER = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?|[-+]?0[xob][0-9a-fA-F_]+")


@dataclass(frozen=True)
class InputProblem(Exception):
    """A file that cannot be read within bounds, located at a 1-based line and column."""

    line: int
    col: int
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.line}:{self.col}: {self.message}"


def _where(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a byte offset."""
    start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, len(data[start:offset].decode("utf-8", "replace")) + 1


def read_text(path: Path, limit: int, what: str, *, allow_bom: bool = True) -> str:
    """Read a UTF-8 text file of at most `limit` bytes; raise `InputProblem` (or OSError if it cannot be opened).

    A UTF-8 byte order mark is skipped, or refused where the file's other reader would not skip it
    (`allow_bom=False`: the generated server reads seed files with the standard JSON parser).
    """
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file" if path.exists() else None
        if kind is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        raise InputProblem(1, 1, f"the {what} is {kind}")
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InputProblem(1, 1, f"the {what} is larger than {limit // (1024 * 1024)} MiB", _SIZE_HINTS.get(what))
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            raise InputProblem(1, 1, f"the {what} is encoded as {encoding}", "save it as UTF-8")
    if data.startswith(_UTF8_BOM):
        if not allow_bom:
            raise InputProblem(1, 1, f"the {what} starts with a UTF-8 byte order mark", "save it without one")
        data = data[len(_UTF8_BOM) :]
    nul = data.find(b"\x00")
    if nul != -1:
        line, col = _where(data, nul)
        raise InputProblem(line, col, f"the {what} holds a NUL byte: it is a binary file, not UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _where(data, exc.start)
        raise InputProblem(
            line, col, f"the {what} is not UTF-8 ({exc.reason}, from byte 0x{data[exc.start]:02x})",
            "save it as UTF-8",
        ) from None  # fmt: skip


_SIZE_HINTS = {"spec": "move large seed data to a JSON file under data/ and name it in 'seed:'"}


# --------------------------------------------------------------------------- YAML


class _Frame:
    __slots__ = ("anchor", "expect_key", "mapping", "nodes")

    def __init__(self, anchor: str | None, mapping: bool) -> None:
        self.anchor = anchor
        self.nodes = 1
        self.mapping = mapping
        self.expect_key = True


def _mark(event: Any) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _tag(event: Any) -> str | None:
    tag = getattr(event, "tag", None)
    if tag is None:
        return None
    value = getattr(tag, "value", tag)  # ruamel wraps tags in a Tag object in recent versions
    return value if isinstance(value, str) else str(value)


# Events are told apart by their class names, which ruamel and PyYAML share, so one
# `_Bounds` checks both parsers' streams.
_NODE_EVENTS = frozenset({"AliasEvent", "ScalarEvent", "SequenceStartEvent", "MappingStartEvent"})
_END_EVENTS = frozenset({"SequenceEndEvent", "MappingEndEvent"})


class _Bounds:
    """The bounds of a YAML event stream, checked one event at a time, before anything is built on it."""

    def __init__(self) -> None:
        self.frames: list[_Frame] = []
        self.sizes: dict[str, int] = {}  # anchor -> nodes it stands for, aliases expanded
        self.total = 0

    def check(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "DocumentStartEvent" and (event.version or event.tags):
            raise InputProblem(*_mark(event), "YAML directives (%YAML, %TAG) are not allowed", "remove the line")
        if kind in _NODE_EVENTS:
            self._node(event, kind)
        elif kind in _END_EVENTS:
            frame = self.frames.pop()
            if frame.anchor is not None:
                self.sizes[frame.anchor] = frame.nodes
            if self.frames:
                self.frames[-1].nodes += frame.nodes

    def _node(self, event: Any, kind: str) -> None:
        line, col = _mark(event)
        parent = self.frames[-1] if self.frames else None
        is_key = parent is not None and parent.mapping and parent.expect_key
        if parent is not None and parent.mapping:
            parent.expect_key = not parent.expect_key
        tag = _tag(event)
        if tag is not None:
            raise InputProblem(line, col, f"YAML tag {printable(tag)!r} is not allowed", "write plain YAML values")
        if is_key and kind != "ScalarEvent":
            raise InputProblem(line, col, "a mapping key must be plain text, not a list, mapping or alias")
        size = 1
        if kind == "AliasEvent":
            size = self.sizes.get(event.anchor, 1)
        elif kind == "ScalarEvent":
            self._scalar(event, line, col)
        self.total += size
        if self.total > MAX_NODES:
            what = "aliases expand" if kind == "AliasEvent" else "the document grows"
            raise InputProblem(line, col, f"{what} past {MAX_NODES:,} YAML nodes", "write the values out once")
        if kind in ("SequenceStartEvent", "MappingStartEvent"):
            if len(self.frames) >= MAX_DEPTH:
                raise InputProblem(line, col, f"YAML nested more than {MAX_DEPTH} levels deep")
            self.frames.append(_Frame(event.anchor, kind == "MappingStartEvent"))
            return
        if parent is not None:
            parent.nodes += size
        if event.anchor is not None and kind != "AliasEvent":
            self.sizes[event.anchor] = 1

    def _scalar(self, event: Any, line: int, col: int) -> None:
        value = event.value
        plain = not event.style  # ruamel writes a plain scalar's style as None, PyYAML as ""
        if plain and len(value) > MAX_NUMBER_CHARS and _NUMBER.fullmatch(value):
            raise InputProblem(
                line, col, f"a number written with {len(value):,} characters (the bound is {MAX_NUMBER_CHARS})",
                "quote it if it is text",
            )  # fmt: skip


class _BoundedParser(RoundTripParser):
    """The round-trip parser, refusing each event that breaks a bound before the composer builds on it."""

    def __init__(self, loader: Any) -> None:
        super().__init__(loader)
        self.bounds = _Bounds()

    def get_event(self) -> Any:
        event = super().get_event()
        self.bounds.check(event)
        return event


def _scan_fast(text: str) -> None:
    """Check the bounds on libyaml's events first, where PyYAML has it: the same checks, fifty times faster.

    The round-trip parser is pure Python (about 20,000 nodes a second), so a
    document that grows past `MAX_NODES` would cost it seconds before it could
    be refused; libyaml reaches that node in a fraction of one. A document
    libyaml cannot parse is left to the round-trip parser, which checks the
    same bounds and says what is wrong in its own words; so is a directive,
    which libyaml places on its own line and ruamel on the `---` after it.
    """
    if _fast_events is None:
        return
    bounds = _Bounds()
    try:
        for event in _fast_events(text):
            if type(event).__name__ == "DocumentStartEvent" and (event.version or event.tags):
                return
            bounds.check(event)
    except _FastYAMLError:
        return


def _libyaml() -> tuple[Callable[[str], Iterator[Any]] | None, type[Exception]]:
    """libyaml's event parser and PyYAML's error class, or None where PyYAML was built without libyaml."""
    try:
        import yaml  # type: ignore[import-untyped]  # PyYAML ships no types
    except ImportError:
        return None, Exception
    if not getattr(yaml, "__with_libyaml__", False):
        return None, Exception

    def events(text: str) -> Iterator[Any]:
        return iter(yaml.parse(text, Loader=yaml.CSafeLoader))

    error: type[Exception] = yaml.YAMLError
    return events, error


_fast_events, _FastYAMLError = _libyaml()


def load_yaml(text: str) -> Any:
    """Parse YAML text into ruamel's round-trip tree (positions kept); raise `InputProblem` or ruamel's errors."""
    _scan_fast(text)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.Parser = _BoundedParser
    return yaml.load(text)


# --------------------------------------------------------------------------- JSON


class _OutOfBounds(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise _OutOfBounds(name)


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _OutOfBounds(text)
    return int(text)


def _bounded_float(text: str) -> float:
    value = float(text)
    if len(text) > MAX_NUMBER_CHARS or not math.isfinite(value):
        raise _OutOfBounds(text)
    return value


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _OutOfBounds("duplicate")
    return result


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def load_json(text: str) -> Any:
    """Parse JSON text within the bounds; raise `InputProblem` at the place of the first problem."""
    try:
        value = json.loads(
            text,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_pairs,
        )
    except json.JSONDecodeError as exc:
        raise InputProblem(exc.lineno, exc.colno, f"not JSON: {exc.msg}") from None
    except (_OutOfBounds, RecursionError):
        raise _locate_json_problem(text) from None
    if _depth(value) > MAX_DEPTH:
        raise _locate_json_problem(text)
    return value


_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<open>[\[{])|(?P<close>[\]}])|(?P<colon>:)|(?P<comma>,)'
    r"|(?P<number>-?[0-9][0-9eE.+-]*)|(?P<word>[A-Za-z]+|-Infinity))",
    re.DOTALL,
)


def _locate_json_problem(text: str) -> InputProblem:
    """Scan JSON that Python parsed (or gave up on for depth) for the first thing out of bounds, with its place."""
    data = text.encode("utf-8")
    stack: list[tuple[bool, set[str]]] = []  # per open container: is it an object, the keys seen
    expect_key = False
    position = 0
    while (token := _TOKEN.match(text, position)) is not None and token.end() > position:
        position, start = token.end(), token.start(token.lastgroup or 0)
        kind, value = token.lastgroup, token.group(token.lastgroup or 0)

        def problem(message: str, hint: str | None = None, at: int = start) -> InputProblem:
            line, col = _where(data, len(text[:at].encode("utf-8")))
            return InputProblem(line, col, message, hint)

        if kind == "open":
            if len(stack) >= MAX_DEPTH:
                return problem(f"JSON nested more than {MAX_DEPTH} levels deep")
            stack.append((value == "{", set()))
            expect_key = value == "{"
        elif kind == "close":
            if stack:
                stack.pop()
            expect_key = False
        elif kind == "comma":
            expect_key = bool(stack) and stack[-1][0]
        elif kind == "string" and expect_key and stack:
            key = json.loads(value)
            if key in stack[-1][1]:
                return problem(f"duplicate key {printable(key)!r}", "each key may appear once in an object")
            stack[-1][1].add(key)
            expect_key = False
        elif kind == "number" and len(value) > MAX_NUMBER_CHARS:
            return problem(f"a number written with {len(value):,} characters (the bound is {MAX_NUMBER_CHARS})")
        elif kind == "number" and not math.isfinite(float(value)):
            return problem(f"the number {printable(value, 24)} is too large to be finite")
        elif kind == "word" and value in ("NaN", "Infinity", "-Infinity"):
            return problem(f"'{value}' is not JSON", "JSON has no NaN or Infinity; use null or a string")
    return InputProblem(1, 1, "JSON holds a value out of bounds")
