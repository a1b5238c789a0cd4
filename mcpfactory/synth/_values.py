"""Propose argument values for a tool from the state it runs on.

A proposal is a guess: the session says whether the call succeeds, and a
chain keeps only calls that do. Guesses are drawn, in order of preference,
from the records the call is about (its *focus*: records named by arguments
chosen already and the records they point to), from record fields of the
parameter's name, from the parameter's enum or referenced collection, and
last from small vocabularies. Every draw comes from the caller's `Random`,
so proposals are deterministic for a seed.
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from mcpfactory.synth.graph import Param, kind_of, split_nullable

__all__ = ["OMIT", "StateView", "ValueSource", "find_values", "is_free_text", "label", "leaves"]

Allow = Callable[[str, str], bool]
"""Whether a record (`collection`, `key`) may be named: the user's own, or nobody's (`_world.World.allowed`)."""
Choices = Callable[[str], list[str]]
"""The keys of a collection that may be named (`_world.World.candidates`)."""

OMIT: Any = object()
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_LABELS = ("name", "title", "full_name", "display_name", "nickname", "email", "label", "subject")

_TITLES = (
    "Call the plumber",
    "Renew the car insurance",
    "Book a dentist appointment",
    "Send the quarterly report",
    "Water the balcony plants",
    "Order printer ink",
    "Plan the team offsite",
    "Pay the electricity bill",
    "Return the rental skis",
    "Schedule the annual check-up",
    "Buy a birthday present for Sam",
    "Update the project roadmap",
    "Clean out the garage",
    "Confirm the hotel shuttle",
    "Review the lease renewal",
    "Pick up the framed print",
)
_FIRST = ("Alex", "Priya", "Jonas", "Mei", "Omar", "Lucia", "Tomás", "Grace", "Kenji", "Amara")
_LAST = ("Rivera", "Okafor", "Lindqvist", "Chen", "Haddad", "Moreau", "Silva", "Novak", "Tanaka", "Byrne")
_SENTENCES = (
    "Please ring the bell on arrival.",
    "Prefers a quiet room away from the elevator.",
    "Ask for the invoice to be emailed.",
    "Bring the signed form.",
    "Follow up next week if there is no answer.",
)
_WORDS = ("blue", "urgent", "weekly", "north", "summer", "archive", "review", "travel")


class StateView:
    """The state a call runs on: the seed overlaid with the session's changes (`None` deletes)."""

    def __init__(self, seed: Mapping[str, Mapping[str, Any]], changes: Mapping[str, Mapping[str, Any]]) -> None:
        self.seed = seed
        self.changes = changes
        self._keys: dict[str, list[str]] = {}
        self.memo: dict[str, Any] = {}  # derived facts about this state (owners), computed once

    def keys(self, collection: str) -> list[str]:
        if collection not in self._keys:
            base = self.seed.get(collection) or {}
            layer = self.changes.get(collection) or {}
            keys = [k for k in base if not (k in layer and layer[k] is None)]
            keys += [k for k, v in layer.items() if k not in base and v is not None]
            self._keys[collection] = keys
        return self._keys[collection]

    def get(self, collection: str, key: str) -> Any:
        layer = self.changes.get(collection) or {}
        if key in layer:
            return layer[key]
        return (self.seed.get(collection) or {}).get(key)

    def contains(self, collection: str, key: Any) -> bool:
        return isinstance(key, str) and self.get(collection, key) is not None

    def collection_of(self, key: Any) -> str | None:
        """The collection holding a record under `key`, if exactly one does."""
        if not isinstance(key, str):
            return None
        found = [c for c in self.seed if self.contains(c, key)]
        found += [c for c in self.changes if c not in self.seed and self.contains(c, key)]
        return found[0] if len(found) == 1 else None


def find_values(record: Any, names: set[str], depth: int = 0) -> Iterator[Any]:
    """Values under any of `names` anywhere in `record`; a mapping under a plural name yields its keys too.

    A field whose name ends with `_<name>` counts too (`from_account_id` for `account_id`).
    """
    if depth > 5:
        return
    if isinstance(record, Mapping):
        for key, value in record.items():
            if key in names or (isinstance(key, str) and any(key.endswith("_" + n) for n in names if "_" in n)):
                if isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values()):
                    yield from value.keys()
                elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
                    for item in value:
                        for id_name in ("id", *sorted(k for k in item if k.endswith("_id"))):
                            if id_name in item:
                                yield item[id_name]
                                break
                else:
                    yield value
            yield from find_values(value, names, depth + 1)
    elif isinstance(record, list):
        for item in record:
            yield from find_values(item, names, depth + 1)


def _names_for(param: Param) -> set[str]:
    """Field names a parameter can draw from: itself, its singular and plural, and for a plain value
    (not a reference, whose focus would offer the record's current one) the name without a `new_`-like prefix."""
    names = {param.name}
    for prefix in ("new_", "old_", "target_", "current_", "original_"):
        if param.name.startswith(prefix) and param.ref is None:
            names.add(param.name[len(prefix) :])
    last = param.name.rsplit("_", 1)[-1]
    if "_" in param.name and len(last) >= 3 and last not in ("ids", "min", "max"):
        names.add(last)  # `actor_email` draws from `email` fields
    for name in list(names):
        for suffix in ("_ids", "_id"):
            if name.endswith(suffix):
                base = name[: -len(suffix)]
                names |= {base + "s", base + "_id" if suffix == "_ids" else base}
        if name.endswith("s") and len(name) > 3:
            names.add(name[:-1])
    return names


_FREE_TEXT = re.compile(r"note|memo|comment|description|reason|message|request|instruction|remark|body")


def is_free_text(param: Param) -> bool:
    """Whether a parameter takes free text a user words themselves (a memo, a note, special requests)."""
    return param.kind == "string" and not param.enum and not param.is_id and bool(_FREE_TEXT.search(param.name.lower()))


def label(record: Any) -> str | None:
    """A name a person would use for a record (its name, title, email ...), if it has one."""
    if not isinstance(record, Mapping):
        return None
    for name in _LABELS:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, Mapping):
            parts = [v for k, v in value.items() if isinstance(v, str) and k in ("first_name", "last_name")]
            if parts:
                return " ".join(parts)
    return None


class ValueSource:
    """Draws argument values; built once per environment from its seed."""

    def __init__(self, seed: Mapping[str, Mapping[str, Any]], today: datetime.date | None = None) -> None:
        self.today = today
        self.field_values: dict[str, list[Any]] = {}
        dates: set[str] = set()
        for records in seed.values():
            for record in list(records.values())[:500]:
                if not isinstance(record, Mapping):
                    continue
                self._collect(record, 0)
                dates.update(v for v in leaves(record) if isinstance(v, str) and _DATE.match(v))
        self.dates = sorted(dates) or ["2024-06-01"]

    def _collect(self, record: Mapping[str, Any], depth: int) -> None:
        """Remember each field's values by name, nested fields included (`address.zip` under `zip`)."""
        for name, value in record.items():
            bucket = self.field_values.setdefault(str(name), [])
            if len(bucket) < 200 and value not in bucket:
                bucket.append(value)
            if depth < 3 and isinstance(value, Mapping):
                self._collect(value, depth + 1)
            elif depth < 3 and isinstance(value, list):
                for item in value[:20]:
                    if isinstance(item, Mapping):
                        self._collect(item, depth + 1)

    # ---------------------------------------------------------------- choices

    def is_date(self, param: Param) -> bool:
        text = f"{param.name} {param.description}".lower()
        samples = self.field_values.get(param.name) or []
        if any(isinstance(v, str) and _DATE.match(v) for v in samples):
            return True
        return param.kind == "string" and bool(
            re.search(r"\bdate\b|_date$|^date|yyyy-mm-dd|iso date|check_in$|check_out$|^due$|_on$", text)
        )

    def is_month(self, param: Param) -> bool:
        """Whether a parameter takes a month (`YYYY-MM`), as a card's expiry does."""
        samples = [v for v in self.field_values.get(param.name) or [] if isinstance(v, str)]
        return bool(samples) and all(_MONTH.match(v) for v in samples)

    def _date(self, rng: random.Random, around: Sequence[Any] = (), after: Sequence[Any] = ()) -> str:
        """A date: a few days after a date chosen for this call already (a check-out after a check-in),
        else near today (the environment's clock) or near a date of the records in focus or the seed."""
        earlier = [v for v in after if isinstance(v, str) and _DATE.match(v)]
        if earlier:
            day = datetime.date.fromisoformat(earlier[-1])
            return (day + datetime.timedelta(days=rng.randint(1, 6))).isoformat()
        if self.today is not None and rng.random() < 0.8:
            return (self.today + datetime.timedelta(days=rng.randint(0, 45))).isoformat()
        anchors = [v for v in around if isinstance(v, str) and _DATE.match(v)] or self.dates
        day = datetime.date.fromisoformat(rng.choice(anchors))
        return (day + datetime.timedelta(days=rng.randint(-3, 21))).isoformat()

    def fresh(self, param: Param, rng: random.Random) -> Any:
        """A value unlike any in the state, for a parameter that names something new."""
        name = param.name.lower()
        if "email" in name:
            return f"{rng.choice(_FIRST).lower()}.{rng.choice(_LAST).lower()}@example.com"
        if "phone" in name:
            return f"+1 555-01{rng.randint(0, 99):02d}"
        if name in ("name", "full_name") or name.endswith("_name"):
            if name.startswith("first"):
                return rng.choice(_FIRST)
            if name.startswith("last"):
                return rng.choice(_LAST)
            return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        if name in ("title", "subject", "summary", "label") or name.endswith("_title"):
            return rng.choice(_TITLES)
        if _FREE_TEXT.search(name):
            return rng.choice(_SENTENCES)
        return rng.choice(_WORDS)

    def propose(
        self,
        param: Param,
        rng: random.Random,
        view: StateView,
        focus: Sequence[Any],
        preferred: Sequence[str] = (),
        chosen: Mapping[str, Any] | None = None,
        allow: Allow | None = None,
        choices: Choices | None = None,
    ) -> Any:
        """A value for `param`, or `OMIT` to leave an optional parameter out.

        `chosen` holds the call's arguments drawn so far (a second date follows
        the first); `allow` says which records may be named, `choices` lists
        them per collection. Optional free text
        is always left out: a user who did not ask for a memo does not dictate one.
        """
        if not param.required and (is_free_text(param) or rng.random() < 0.65):
            return OMIT
        if param.nullable and rng.random() < (0.5 if not param.required else 0.1):
            return None
        return self.value(param, rng, view, focus, preferred, chosen, allow, choices)

    def value(
        self,
        param: Param,
        rng: random.Random,
        view: StateView,
        focus: Sequence[Any],
        preferred: Sequence[str] = (),
        chosen: Mapping[str, Any] | None = None,
        allow: Allow | None = None,
        choices: Choices | None = None,
    ) -> Any:
        if param.ref:
            ref = param.ref

            def ok(key: Any) -> bool:
                return view.contains(ref, key) and (allow is None or allow(ref, key))

            keys = choices(ref) if choices is not None else view.keys(ref)
            related = [v for v in self._from_focus(param, focus) if ok(v)]
            liked = [k for k in preferred if ok(k)]
            if related and rng.random() < 0.7:
                return rng.choice(related)
            if liked and rng.random() < 0.5:
                return rng.choice(liked)
            return rng.choice(keys) if keys else self.fresh(param, rng)
        if param.enum and param.kind != "array":
            return rng.choice(list(param.enum))
        related = self._from_focus(param, focus)
        if param.kind == "array":
            return self._array(param, rng, view, focus, related)
        related = [v for v in related if _fits(v, param.kind)]
        if related and (param.is_id or rng.random() < 0.7):
            return rng.choice(related)
        if self.is_date(param):
            return self._date(rng, [v for f in focus for v in leaves(f)], list((chosen or {}).values()))
        pool = [v for v in self.field_values.get(param.name, ()) if _fits(v, param.kind)]
        if param.kind == "boolean":
            return rng.random() < 0.5
        if param.kind == "integer":
            low = int(param.schema.get("minimum", 1))
            high = int(param.schema.get("maximum", max(low, 5)))
            return rng.choice(pool) if pool and rng.random() < 0.5 else rng.randint(low, high)
        if param.kind == "number":
            return rng.choice(pool) if pool and rng.random() < 0.5 else round(rng.uniform(5, 300), 2)
        if param.kind == "object":
            return self._object(param, rng, view, focus, pool)
        if pool and rng.random() < 0.85:
            shaped = self._shaped(pool, rng)
            return shaped if shaped is not None and rng.random() < 0.5 else rng.choice(pool)
        return self.fresh(param, rng)

    def _shaped(self, pool: Sequence[Any], rng: random.Random) -> str | None:
        """A new value shaped like the field's values: digits of the same length, a month after today."""
        texts = [v for v in pool if isinstance(v, str)]
        if not texts:
            return None
        if all(_MONTH.match(v) for v in texts):
            start = self.today or datetime.date(2024, 6, 1)
            month = start.month - 1 + rng.randint(1, 48)
            return f"{start.year + month // 12}-{month % 12 + 1:02d}"
        if all(v.isdigit() for v in texts) and len({len(v) for v in texts}) == 1:
            return "".join(rng.choice("0123456789") for _ in range(len(texts[0])))
        return None

    def _from_focus(self, param: Param, focus: Sequence[Any]) -> list[Any]:
        names = _names_for(param)
        found: list[Any] = []
        for record in focus:
            for value in find_values(record, names):
                if value not in found:
                    found.append(value)
        return found

    def _array(
        self, param: Param, rng: random.Random, view: StateView, focus: Sequence[Any], related: list[Any]
    ) -> list[Any]:
        item_kind = param.item_kind or "string"
        if param.enum:
            return rng.sample(list(param.enum), k=rng.randint(1, min(2, len(param.enum))))
        scalars = [v for v in related if _fits(v, item_kind)]
        if scalars and rng.random() < 0.8:
            return rng.sample(scalars, k=rng.randint(1, min(2, len(scalars))))
        lists = [v for v in related if isinstance(v, list)]
        lists += [v for v in self.field_values.get(param.name, ()) if isinstance(v, list)]
        if lists and rng.random() < 0.6:
            return list(rng.choice(lists))
        if item_kind == "string":
            return [self.fresh(param, rng)] if rng.random() < 0.7 else []
        return []

    def _object(
        self, param: Param, rng: random.Random, view: StateView, focus: Sequence[Any], pool: list[Any]
    ) -> dict[str, Any]:
        if pool and rng.random() < 0.7:
            return dict(rng.choice(pool))
        out: dict[str, Any] = {}
        required = set(param.schema.get("required") or ())
        for name, raw in (param.schema.get("properties") or {}).items():
            schema, nullable = split_nullable(raw, param.schema)
            sub = Param(
                tool=param.tool,
                name=str(name),
                kind=kind_of(schema),
                required=name in required,
                nullable=nullable,
                schema=schema,
                enum=tuple(schema.get("enum") or ()),
            )
            value = self.propose(sub, rng, view, focus)
            if value is not OMIT:
                out[str(name)] = value
        return out


def leaves(value: Any, depth: int = 0) -> Iterator[Any]:
    """Every scalar inside a JSON value, and every mapping key."""
    if depth > 6:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield key
            yield from leaves(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, depth + 1)
    else:
        yield value


def _fits(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, Mapping)
    if kind == "array":
        return isinstance(value, list)
    return True
