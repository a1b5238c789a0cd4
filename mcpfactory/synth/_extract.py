"""Find the JSON or YAML a model wrote inside a plain-text reply."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["extract_block", "extract_json"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)


def extract_block(text: str, languages: tuple[str, ...]) -> str | None:
    """The body of the first fenced block tagged with one of `languages`, else of the first untagged one.

    A reply cut off before its closing fence still yields its block.
    """
    untagged: str | None = None
    for match in _FENCE.finditer(text):
        language, body = match.group(1).lower(), match.group(2)
        if language in languages:
            return body
        if not language and untagged is None:
            untagged = body
    return untagged


def extract_json(text: str) -> Any:
    """Parse the JSON value a reply holds: the whole text, a fenced block, or the first balanced object.

    Raise `ValueError` naming what was tried when none of them parses.
    """
    stripped = text.strip()
    candidates = [stripped]
    block = extract_block(text, ("json", "jsonc"))
    if block is not None:
        candidates.append(block.strip())
    candidates.extend(_balanced_objects(text))
    first_error = ""
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            first_error = first_error or f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    raise ValueError(f"no JSON value found in the reply ({first_error or 'it is empty'})")


def _balanced_objects(text: str) -> list[str]:
    """Substrings from each top-level `{` or `[` to its matching bracket, strings and escapes respected."""
    found: list[str] = []
    index = 0
    while index < len(text):
        if text[index] not in "{[":
            index += 1
            continue
        end = _match(text, index)
        if end is None:
            index += 1
            continue
        found.append(text[index : end + 1])
        index = end + 1
    return found


def _match(text: str, start: int) -> int | None:
    closing = {"{": "}", "[": "]"}
    stack = [closing[text[start]]]
    in_string = escaped = False
    for index in range(start + 1, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in closing:
            stack.append(closing[char])
        elif char in "}]":
            if char != stack.pop():
                return None
            if not stack:
                return index
    return None
