"""A session's state: keyed collections over a frozen seed, with copy-on-write writes per call.

The seed is loaded once per process and frozen; every session reads it in
place and holds only what it wrote (copy-on-write per record), so a reset
costs the same whatever the seed size and a session's memory grows with its
writes. Writes of one call go to a per-call layer that is validated and merged
when the body returns, and dropped when it raises: a call is atomic across
collections.

A collection keyed by integers or tuples (`KeyedCollection`) stores its records
under the keys' text form (`mcpfactory.runtime._keys`) and translates at the
body's side, so snapshots, hashes and patches see JSON object keys throughout.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._keys import KeyKind, key_from_wire, key_to_wire
from ._values import ReadOnlyError, freeze, same_value, thaw

if TYPE_CHECKING:
    from ._environment import Environment

__all__ = ["Collection", "KeyedCollection", "Session", "StateBase", "load_json_seed"]

_R = TypeVar("_R")
_K = TypeVar("_K")

_MISSING: Any = object()


class Collection(Generic[_R]):
    """One keyed collection of a session's state: the frozen seed plus this session's writes."""

    __slots__ = ("_base", "_layer", "_name", "_overlay", "_session", "_size")

    def __init__(self, name: str, base: Mapping[str, Any], session: Session) -> None:
        self._name = name
        self._base = base
        self._overlay: dict[str, Any] = {}  # committed writes; None marks a deletion
        self._layer: dict[str, Any] | None = None  # the current call's writes
        self._size = len(base)  # committed records, kept up to date so len() is O(the call's writes)
        self._session = session

    # reads -------------------------------------------------------------
    def _lookup(self, key: str) -> Any:
        layer = self._layer
        if layer is not None and key in layer:
            return layer[key]
        if key in self._overlay:
            return self._overlay[key]
        return self._base.get(key)

    def get(self, key: str, default: Any = None) -> _R | None:
        """Return the record under `key` (read-only), or `default`."""
        record: _R | None = self._lookup(key)
        return default if record is None else record

    def __getitem__(self, key: str) -> _R:
        record = self._lookup(key)
        if record is None:
            raise KeyError(f"{self._name} has no record {key!r}")
        return record  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not None

    def _changes(self) -> dict[str, Any]:
        if self._layer:
            return {**self._overlay, **self._layer}
        return self._overlay

    def __iter__(self) -> Iterator[str]:
        changes = self._changes()
        if not changes:
            yield from self._base
            return
        for key in self._base:
            if changes.get(key, True) is not None:
                yield key
        for key, record in changes.items():
            if record is not None and key not in self._base:
                yield key

    def keys(self) -> Iterator[str]:
        return iter(self)

    def values(self) -> Iterator[_R]:
        changes = self._changes()
        if not changes:
            yield from self._base.values()
            return
        for key, record in self._base.items():
            current = changes.get(key, record)
            if current is not None:
                yield current
        for key, record in changes.items():
            if record is not None and key not in self._base:
                yield record

    def items(self) -> Iterator[tuple[str, _R]]:
        changes = self._changes()
        if not changes:
            yield from self._base.items()
            return
        for key, record in self._base.items():
            current = changes.get(key, record)
            if current is not None:
                yield key, current
        for key, record in changes.items():
            if record is not None and key not in self._base:
                yield key, record

    def __len__(self) -> int:
        size = self._size  # committed records; adjust for what the current call wrote
        for key, record in (self._layer or {}).items():
            existed = self._committed(key) is not None
            size += (record is not None) - existed
        return size

    def _committed(self, key: str) -> Any:
        return self._overlay[key] if key in self._overlay else self._base.get(key)

    def __repr__(self) -> str:
        return f"<Collection {self._name}: {len(self)} records>"

    # writes ------------------------------------------------------------
    def _writable_layer(self) -> dict[str, Any]:
        self._session.check_writable(self._name)
        if self._layer is None:
            self._layer = {}
            self._session.touched.append(self)
        return self._layer

    def edit(self, key: str) -> _R:
        """Return a writable copy of the record under `key`; changes are kept if the call succeeds."""
        layer = self._writable_layer()
        record = layer.get(key, _MISSING)
        if record is _MISSING:
            current = self._overlay[key] if key in self._overlay else self._base.get(key)
            if current is None:
                raise KeyError(f"{self._name} has no record {key!r}")
            record = layer[key] = thaw(current)
        elif record is None:
            raise KeyError(f"{self._name} has no record {key!r}")
        return record  # type: ignore[no-any-return]

    def __setitem__(self, key: str, record: _R) -> None:
        if not isinstance(key, str):
            raise TypeError(f"{self._name} keys are strings, not {type(key).__name__}")
        if not isinstance(record, dict):
            raise TypeError(f"a {self._name} record is an object, not {type(record).__name__}")
        self._writable_layer()[key] = record

    def __delitem__(self, key: str) -> None:
        layer = self._writable_layer()
        if self._lookup(key) is None:
            raise KeyError(f"{self._name} has no record {key!r}")
        layer[key] = None

    # the session's side ---------------------------------------------------
    def _prepare(self, validate: Callable[[str, Any], None]) -> list[tuple[str, Any]]:
        """Validate and freeze this call's writes without applying them; raise if any record is invalid."""
        assert self._layer is not None
        prepared = []
        for key, record in self._layer.items():
            if record is not None:
                validate(key, record)
                record = freeze(record)
            prepared.append((key, record))
        return prepared

    def _apply(self, prepared: list[tuple[str, Any]]) -> None:
        """Merge prepared writes into the session's state; a record equal to the seed holds nothing."""
        self._layer = None
        for key, record in prepared:
            self._size += (record is not None) - (self._committed(key) is not None)
            # A deletion of a record the seed lacks, or a record back to its seed value, holds nothing.
            # Back to its value as JSON: 9.0 == 9 in Python, but not in the state or its hash.
            base = self._base.get(key)
            if (record is None and key not in self._base) or (
                record is not None and base == record and same_value(base, record)
            ):
                self._overlay.pop(key, None)
            else:
                self._overlay[key] = record

    def _rollback(self) -> None:
        self._layer = None

    def _snapshot(self, scope: str) -> dict[str, Any]:
        if scope == "changes":
            return dict(self._overlay)
        return {key: self._lookup(key) for key in self}


class KeyedCollection(Generic[_K, _R]):
    """A collection whose keys are integers or tuples: the body's side of a `Collection` of their text forms.

    Every read and write goes to the underlying collection under the key's text
    form (`key_to_wire`); iteration gives keys back as the body wrote them. A key
    of the wrong kind is simply absent (`get`, `in`) or a `KeyError`. A composite
    key may also be given as a list, as a record that refers to one holds it.
    """

    __slots__ = ("_kind", "_wire")

    def __init__(self, wire: Collection[_R], kind: KeyKind) -> None:
        self._wire = wire
        self._kind = kind

    def _fits(self, key: object) -> bool:
        if self._kind == "int":
            return isinstance(key, int) and not isinstance(key, bool)
        return isinstance(key, tuple | list)

    def _text(self, key: _K) -> str:
        if not self._fits(key):
            raise KeyError(f"{self._wire._name} has no record {key!r}")
        try:
            # A composite key a record holds (a reference to it) is a JSON array, a list: the same key.
            return key_to_wire(tuple(key) if isinstance(key, list) else key)
        except TypeError:
            raise KeyError(f"{self._wire._name} has no record {key!r}") from None

    def _key(self, text: str) -> _K:
        key: _K = key_from_wire(text, self._kind)
        return key

    def get(self, key: _K, default: Any = None) -> _R | None:
        """Return the record under `key` (read-only), or `default`."""
        try:
            text = self._text(key)
        except KeyError:
            return default  # type: ignore[no-any-return]
        return self._wire.get(text, default)

    def __getitem__(self, key: _K) -> _R:
        return self._wire[self._text(key)]

    def __contains__(self, key: object) -> bool:
        try:
            text = self._text(key)  # type: ignore[arg-type]
        except KeyError:
            return False
        return text in self._wire

    def __iter__(self) -> Iterator[_K]:
        for text in self._wire:
            yield self._key(text)

    def keys(self) -> Iterator[_K]:
        return iter(self)

    def values(self) -> Iterator[_R]:
        return self._wire.values()

    def items(self) -> Iterator[tuple[_K, _R]]:
        for text, record in self._wire.items():
            yield self._key(text), record

    def __len__(self) -> int:
        return len(self._wire)

    def __repr__(self) -> str:
        return f"<Collection {self._wire._name}: {len(self)} records, {self._kind} keys>"

    def edit(self, key: _K) -> _R:
        """Return a writable copy of the record under `key`; changes are kept if the call succeeds."""
        return self._wire.edit(self._text(key))

    def __setitem__(self, key: _K, record: _R) -> None:
        if not self._fits(key):
            raise TypeError(f"{self._wire._name} keys are {self._kind} keys, not {type(key).__name__}")
        self._wire[key_to_wire(tuple(key) if isinstance(key, list) else key)] = record

    def __delitem__(self, key: _K) -> None:
        del self._wire[self._text(key)]


class StateBase:
    """The typed `state` object a body sees; generated servers subclass it with one attribute per collection."""

    def __init__(
        self, session: Session, seed: Mapping[str, Mapping[str, Any]], keys: Mapping[str, KeyKind] | None = None
    ) -> None:
        for name, base in seed.items():
            collection: Collection[Any] = Collection(name, base, session)
            kind = keys.get(name, "str") if keys else "str"
            setattr(self, name, collection if kind == "str" else KeyedCollection(collection, kind))

    def collections(self) -> dict[str, Collection[Any]]:
        """Each collection as stored, keyed by the text form of its keys."""
        return {name: c._wire if isinstance(c, KeyedCollection) else c for name, c in vars(self).items()}


class Session:
    """One client's state, random generator, caller, clock and call bookkeeping.

    `principal` and `scopes` say who is calling (docs/spec.md "Auth"); `clock`
    is what `now()` returns where the spec's time is per session, and
    `pending_clock` the clock a call in progress has moved it to (kept if the
    call succeeds, dropped if it fails, as the call's writes are).
    """

    __slots__ = ("_rng", "clock", "pending_clock", "principal", "scopes", "seed", "state", "touched", "writable")

    def __init__(self, env: Environment, seed: int | None = None, patch: Mapping[str, Any] | None = None) -> None:
        self.seed = env.default_seed if seed is None else seed
        self._rng: random.Random | None = None
        self.touched: list[Collection[Any]] = []
        self.writable = False
        self.principal: Any = env.default_principal
        self.scopes: frozenset[str] = env.default_scopes
        self.clock: datetime = env.clock
        self.pending_clock: datetime | None = None
        if env.key_kinds:
            self.state = env.state_class(self, env.seed_state(), env.key_kinds)
        else:
            self.state = env.state_class(self, env.seed_state())
        if patch:
            collections = self.state.collections()
            for name, records in patch.items():
                collection = collections[name]
                collection._apply(
                    [(key, None if record is None else freeze(record)) for key, record in records.items()]
                )

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng

    def adopt_rng(self, other: Session) -> None:
        """Continue from `other`'s generator, in whatever state its draws (or a reseed) left it."""
        self.seed = other.seed
        self._rng = other._rng

    def check_writable(self, collection: str) -> None:
        if not self.writable:
            raise ReadOnlyError(f"a read tool tried to write to {collection}")

    def snapshot(self, scope: str = "full") -> dict[str, dict[str, Any]]:
        return {name: c._snapshot(scope) for name, c in self.state.collections().items()}


def load_json_seed(
    directory: Path, files: Mapping[str, str], key_fields: Mapping[str, str | tuple[str, ...] | None]
) -> dict[str, Any]:
    """Load seed files `{collection: relative path}`; a list of records is keyed by its key field (or fields).

    Keys are in their text form (`mcpfactory.runtime._keys`): an integer key
    field's value in decimal, a composite key's fields as a JSON array.
    """
    state: dict[str, Any] = {}
    for collection, relative in files.items():
        data = json.loads((directory / relative).read_text(encoding="utf-8"))
        if isinstance(data, list):
            key_field = key_fields[collection]
            if isinstance(key_field, tuple):
                data = {key_to_wire(tuple(record[f] for f in key_field)): record for record in data}
            else:
                data = {key_to_wire(record[key_field]): record for record in data}
        state[collection] = data
    return state
