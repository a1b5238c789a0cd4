"""Characters that may not reach generated code, and how to name them in a message.

A spec's text ends up in the generated server: names as identifiers, bodies as
code, descriptions and the policy as docstrings and string literals. A NUL byte
there makes the module unimportable; a carriage return or a line separator
moves code onto another line; a bidirectional override makes the code read
differently from how it runs ("Trojan Source", CVE-2021-42574); a lone
surrogate cannot even be written out as UTF-8. Tabs and line feeds are the only
control characters a spec needs. Unicode tag characters (U+E0000-U+E007F) are
invisible in an editor and a review, yet a model reads them as the ASCII they
shadow: a description could carry instructions no reviewer sees ("ASCII
smuggling"); the only thing they are needed for is a few subdivision flags.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["bad_character", "describe_character", "printable", "visible"]

# C0 and C1 controls (but tab and line feed), DEL, the bidirectional formatting characters,
# the Unicode line and paragraph separators, lone surrogates, and the tag characters.
_BAD = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\U000e0000-\U000e007f]"
)
_SHOWN = re.compile(f"{_BAD.pattern}|[\t\n]")
_NAMES = {"\x00": "NUL", "\x0b": "vertical tab", "\x0c": "form feed", "\r": "carriage return", "\x1b": "ESC"}


def bad_character(text: str) -> int | None:
    """The index of the first character of `text` that may not reach generated code, or None."""
    found = _BAD.search(text)
    return found.start() if found else None


def describe_character(char: str) -> str:
    """Name a character for an error message: `U+202E (RIGHT-TO-LEFT OVERRIDE)`."""
    if "\ud800" <= char <= "\udfff":
        return f"U+{ord(char):04X} (a lone surrogate, half of a character)"
    name = _NAMES.get(char) or unicodedata.name(char, "a control character")
    return f"U+{ord(char):04X} ({name})"


def visible(text: str) -> str:
    """`text` with every control, bidi and separator character escaped, so a message stays one honest line."""
    return _SHOWN.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


def printable(text: str, limit: int = 80) -> str:
    """`text` made visible and cut to `limit` characters, for quoting user input in a message."""
    shown = visible(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
