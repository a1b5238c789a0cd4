"""The parsed YAML tree of a spec: where a field path is in the file, its plain values, what they may hold."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from mcpfactory.spec._text import bad_character, describe_character

__all__ = ["Loc", "Source", "display_path", "plain", "value_issues"]

Loc = tuple[str | int, ...]


class Source:
    """The parsed YAML tree, used to turn a field path into a line and column."""

    def __init__(self, path: Path, text: str, root: Any) -> None:
        self.path = path
        self.display = display_path(path)
        self.lines = text.splitlines()
        self.root = root

    def position(self, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
        node, line, col = self.root, 0, 0
        for index, part in enumerate(loc):
            last = index == len(loc) - 1
            if isinstance(node, CommentedMap) and part in node:
                try:
                    line, col = node.lc.key(part) if (last and at_key) else node.lc.value(part)
                except KeyError:  # a key merged in from an anchor (<<: *base): blame the mapping
                    line, col = node.lc.line, node.lc.col
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, col = node.lc.item(part)
                node = node[part]
            elif isinstance(node, CommentedMap | CommentedSeq):
                line, col = node.lc.line, node.lc.col
                break
            else:
                break
        return line + 1, col + 1

    def body_position(self, loc: Loc, body_line: int, body_col: int) -> tuple[int, int]:
        """Locate a line/column inside a string value (a body or expression)."""
        line, col = self.position(loc)
        value = self._value(loc)
        if isinstance(value, LiteralScalarString | FoldedScalarString):
            first = line  # the indicator's line (1-based) is the line before the content
            content_line = first + body_line
            # The block's indentation is its first content line's; body columns count from there (a body line
            # indented inside an `if` keeps that indentation in the value).
            block = (text for text in self.lines[first:] if text.strip())
            base = next(block, "")
            return content_line, len(base) - len(base.lstrip(" ")) + body_col
        quoted = 1 if line - 1 < len(self.lines) and self.lines[line - 1][col - 1 : col] in ("'", '"') else 0
        return line + body_line - 1, col + quoted + body_col - 1

    def _value(self, loc: Loc) -> Any:
        node = self.root
        for part in loc:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node


def display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):  # ruamel's scalar subclasses, back to plain JSON values
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _reaches_code(loc: Loc) -> bool:
    """Whether the text at `loc` is written into the generated server by the compiler, outside the code checks.

    Bodies (of tools, helpers, views and the scenario), invariant checks and `error_when` are code, checked with exact
    positions by `_restrict`; examples are run by the verifier and never written into the server.
    """
    if len(loc) >= 3 and loc[0] in ("tools", "helpers", "views") and loc[2] == "body":
        return False
    if loc[:2] == ("scenario", "body"):
        return False
    if len(loc) >= 3 and loc[0] == "invariants" and loc[2] == "check":
        return False
    if loc == ("error_when",) or (len(loc) == 3 and loc[0] == "tools" and loc[2] == "error_when"):
        return False
    return not (len(loc) >= 3 and loc[0] == "tools" and loc[2] == "examples")


def value_issues(data: dict[str, Any]) -> Iterator[tuple[Loc, str, str | None, bool]]:
    """Yield (path, message, hint, at_key) for characters that may not reach generated code and non-JSON values."""
    stack: list[tuple[Loc, Any]] = [((), data)]
    while stack:
        loc, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                child = (*loc, key)
                index = bad_character(key) if _reaches_code(child) else None
                if index is not None:
                    yield child, f"character {describe_character(key[index])} is not allowed in a name", None, True
                stack.append((child, value))
        elif isinstance(node, list):
            stack.extend(((*loc, index), value) for index, value in enumerate(node))
        elif isinstance(node, str):
            index = bad_character(node) if _reaches_code(loc) else None
            if index is not None:
                message = f"character {describe_character(node[index])} is not allowed here: the text reaches the generated server"
                yield loc, message, "remove it; write a line break as a line break", False
        elif isinstance(node, float) and not math.isfinite(node):
            yield loc, f"{node} is not a JSON number", "JSON has no NaN or infinity; use null or a string", False
        elif not isinstance(node, int | float | bool) and node is not None:
            what = {"date": "a date", "datetime": "a date and time", "TimeStamp": "a date and time"}.get(
                type(node).__name__, f"a {type(node).__name__}"
            )
            yield loc, f"this value is read as {what}, which is not JSON", "quote it to keep it as text", False
