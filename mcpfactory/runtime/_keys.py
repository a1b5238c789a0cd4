"""Record keys: what a body holds (a str, an int or a tuple of them) and the one text form on the wire.

A collection's key is a string, an integer, or a tuple of strings and integers
(a composite key, such as GitHub's `(owner, repo, number)`). Bodies use the key
as it is (`state.issues[("octo", "hello", 42)]`); everywhere a key is a JSON
object key (the control plane's snapshots, resets and patches, state hashes,
seed files, task states and assertion paths) it is written in one text form:

- a string as it is: `"b1"`;
- an integer in decimal: `"42"`, `"-7"` (no sign for positives, no leading zeros);
- a tuple as its canonical JSON array: `'["octo","hello",42]'` (no spaces,
  non-ASCII kept), which no string of the other two forms can be mistaken for
  within one collection, since a collection has one kind of key.

`KeyKind` names the kind a collection's keys have; decoding a key needs it (the
text `"42"` is a string key in one collection and an integer in another).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BeforeValidator

__all__ = ["JsonArray", "KeyKind", "key_from_wire", "key_kind_of_schema", "key_to_wire"]

KeyKind = Literal["str", "int", "tuple"]


def _tuple_from_array(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


JsonArray = BeforeValidator(_tuple_from_array)
"""Marks a tuple type (a composite key) that arguments give as a JSON array: `Annotated[tuple[str, int], JsonArray]`.

Arguments are validated strictly, and JSON has arrays, not tuples; this turns the
array into a tuple first, so its parts are still checked strictly."""


def key_to_wire(key: Any) -> str:
    """The text form of a key; raise `TypeError` for a value that cannot be a key."""
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    if isinstance(key, tuple) and len(key) >= 2:
        for part in key:
            if not isinstance(part, str | int) or isinstance(part, bool):
                raise TypeError(f"a key part is a str or an int, not {type(part).__name__}")
        return json.dumps(list(key), separators=(",", ":"), ensure_ascii=False)
    raise TypeError(f"a key is a str, an int or a tuple of them, not {type(key).__name__}")


def key_from_wire(text: str, kind: KeyKind) -> Any:
    """The key a text form stands for in a collection whose keys are of `kind`; raise `ValueError` if none."""
    if kind == "str":
        return text
    if kind == "int":
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer key") from None
        if str(value) != text:
            raise ValueError(f"{text!r} is not an integer key in its one form ({value!r} is written {str(value)!r})")
        return value
    try:
        parts = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"{text!r} is not a composite key (a JSON array such as '[\"a\",1]')") from None
    if not isinstance(parts, list):
        raise ValueError(f"{text!r} is not a composite key (a JSON array such as '[\"a\",1]')")
    key = tuple(parts)
    if key_to_wire_or_none(key) != text:
        raise ValueError(f"{text!r} is not a composite key in its one form (canonical JSON of the parts)")
    return key


def key_to_wire_or_none(key: Any) -> str | None:
    try:
        return key_to_wire(key)
    except TypeError:
        return None


def key_kind_of_schema(schema: Mapping[str, Any]) -> KeyKind:
    """The kind of key a parameter takes, judged by its JSON Schema (`integer`, an array, else a string)."""
    kind = schema.get("type")
    if kind == "integer":
        return "int"
    if kind == "array":
        return "tuple"
    return "str"
