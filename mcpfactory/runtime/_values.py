"""JSON values: read-only containers, freezing and thawing, canonical JSON and the one equality.

Two JSON values are *the same* when their canonical JSON is equal: sorted
keys, no spaces, and numbers as JSON writes them, so `100` and `100.0` differ,
and `0`, `False` and `null` are three different values. The state hash, the
judge and every comparison of states use this one equality (`same_value`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, NoReturn

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "FrozenDict",
    "FrozenList",
    "Number",
    "ReadOnlyError",
    "canonical_json",
    "freeze",
    "same_value",
    "state_sha256",
    "thaw",
]


class ReadOnlyError(TypeError):
    """A body mutated a record it read without `edit()`."""


def _read_only(*_: object, **__: object) -> NoReturn:
    raise ReadOnlyError("records read from state are read-only; call state.<collection>.edit(key) to change one")


class FrozenDict(dict[str, Any]):
    """A JSON object that cannot be changed in place."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    def __copy__(self) -> dict[str, Any]:
        return _thaw_dict(self)

    def __deepcopy__(self, memo: object) -> dict[str, Any]:
        return _thaw_dict(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A JSON array that cannot be changed in place."""

    __slots__ = ()
    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = sort = reverse = _read_only
    __iadd__ = __imul__ = _read_only

    def __copy__(self) -> list[Any]:
        return [thaw(v) for v in self]

    def __deepcopy__(self, memo: object) -> list[Any]:
        return [thaw(v) for v in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """Return a deeply read-only copy of a JSON value (frozen parts are shared)."""
    if type(value) is FrozenDict or type(value) is FrozenList:
        return value
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Return a deeply mutable copy of a JSON value."""
    if isinstance(value, dict):
        return _thaw_dict(value)
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value


def _thaw_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: thaw(v) for k, v in value.items()}


def canonical_json(value: Any) -> str:
    """Serialise as canonical JSON: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same_value(left: Any, right: Any) -> bool:
    """Whether two JSON values are the same: equal canonical JSON (so `1 != 1.0`, `0 != False`)."""
    if left is right:
        return True
    return canonical_json(left) == canonical_json(right)


def state_sha256(state: Mapping[str, Any]) -> str:
    """Hash a state `{collection: {key: record}}` as SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(state).encode("utf-8")).hexdigest()


def _json_number(value: Any) -> Any:
    # JSON has one number type; keep an integer an integer (tau-bench's state stores 150, not 150.0).
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("float_type", "Input should be a valid number")


Number = Annotated[float, PlainValidator(_json_number), WithJsonSchema({"type": "number"})]
"""The spec's `float`: any JSON number, kept as given (an int stays an int)."""
