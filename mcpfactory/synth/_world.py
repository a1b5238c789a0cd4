"""Who the user is and what is theirs: the principal, and who owns each record.

A task has one user. Where an environment serves many people (guests,
customers, members), the user is one record of a *principal* collection, and
every record a task touches must be theirs. Everything here is derived from
what the environment shows, never written per environment:

- *identity tools*: reads without id parameters that, given a record's own
  details (an email, an email and a date of birth, a name and a zip code),
  return that record or its key. They are found by trying them on a few
  records of each collection.
- the *principal* collection: a collection some identity tool identifies
  (the one whose key the most write parameters take, if several); without
  one, a collection of people (records with an email) that other records
  link to and writes take, whose key the user then states themselves
  (`key_known`, as tau-bench's airline users give their user id).
- *creators*: writes that register a new principal from details alone
  (`register_guest`).
- *owners* of a record: the principal keys reached by following its links
  (`graph.Link`: `payments.booking_id -> bookings.guest_id -> guests`); a
  principal owns itself. A record that reaches no principal (a hotel, a room,
  a product) is *public*. A principal may touch a record when it owns it or
  the record is public.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcpfactory.synth._session import EnvSession
from mcpfactory.synth._values import StateView, ValueSource, find_values, leaves
from mcpfactory.synth.graph import Link, Param, ToolGraph

__all__ = ["World", "discover_world"]

State = Mapping[str, Mapping[str, Any]]
_DEPTH = 5
_SAMPLES = 3


@dataclass
class World:
    """The principal collection (if any), how a user proves who they are, and the record links."""

    links: dict[str, list[Link]] = field(default_factory=dict)
    principal: str | None = None
    identity: list[str] = field(default_factory=list)
    creators: list[str] = field(default_factory=list)
    key_known: bool = False
    _seed_maps: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict, repr=False)

    def owners(self, view: StateView, collection: str, key: Any) -> frozenset[str]:
        """The principal keys that own a record (empty: public, or no such record)."""
        if self.principal is None or not isinstance(key, str):
            return frozenset()
        memo: dict[tuple[str, str], frozenset[str]] = view.memo.setdefault("owners", {})
        found = memo.get((collection, key))
        if found is None:
            found = frozenset(self._walk(view, collection, key, 0, set()))
            memo[(collection, key)] = found
        return found

    def _walk(self, view: StateView, collection: str, key: str, depth: int, seen: set[tuple[str, str]]) -> set[str]:
        seen.add((collection, key))
        record = view.get(collection, key)
        out = {key} if collection == self.principal and record is not None else set()
        if not isinstance(record, Mapping) or depth >= _DEPTH:
            return out
        for link in self.links.get(collection, ()):
            for target in link.keys(record):
                if (link.target, target) not in seen and view.contains(link.target, target):
                    out |= self._walk(view, link.target, target, depth + 1, seen)
        return out

    def owner_map(self, view: StateView, collection: str) -> dict[str, frozenset[str]]:
        """Every record of a collection with its owners: the seed's, computed once, updated with the changes.

        A record the changes do not touch keeps its seed owners (a write that re-links other records, as a
        transfer does, is judged record by record with `owners`).
        """
        memo: dict[str, dict[str, frozenset[str]]] = view.memo.setdefault("owner_map", {})
        found = memo.get(collection)
        if found is not None:
            return found
        base = self._seed_maps.get(collection)
        if base is None:
            seed_view = StateView(view.seed, {})
            base = {k: self.owners(seed_view, collection, k) for k in seed_view.keys(collection)}
            self._seed_maps[collection] = base
        found = dict(base)
        for key, record in (view.changes.get(collection) or {}).items():
            if record is None:
                found.pop(key, None)
            else:
                found[key] = self.owners(view, collection, key)
        memo[collection] = found
        return found

    def candidates(self, view: StateView, principal: str | None, collection: str) -> list[str]:
        """The keys of a collection the principal may name: theirs, or nobody's."""
        if self.principal is None or principal is None:
            return view.keys(collection)
        return [k for k, owners in self.owner_map(view, collection).items() if not owners or principal in owners]

    def theirs(self, view: StateView, principal: str | None, collection: str) -> list[str]:
        """The keys of a collection that belong to someone other than the principal."""
        if self.principal is None or principal is None:
            return []
        return [k for k, owners in self.owner_map(view, collection).items() if owners and principal not in owners]

    def allowed(self, view: StateView, principal: str | None, collection: str, key: Any) -> bool:
        """Whether `principal` may touch the record: theirs, or public (always, without a principal)."""
        if self.principal is None or principal is None:
            return True
        owners = self.owners(view, collection, key)
        return not owners or principal in owners

    def owned(self, collection: str) -> bool:
        """Whether records of `collection` can belong to a principal (it links, directly or not, to one)."""
        if self.principal is None:
            return False
        todo, seen = [collection], set()
        while todo:
            current = todo.pop()
            if current == self.principal:
                return True
            seen.add(current)
            todo += [link.target for link in self.links.get(current, ()) if link.target not in seen]
        return False

    def noun(self) -> str:
        """The principal collection's singular name, as a user says it ("guest", "customer")."""
        name = (self.principal or "user").replace("_", " ")
        if name.endswith("ies"):
            return name[:-3] + "y"
        return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _identity_arguments(params: Sequence[Param], record: Mapping[str, Any]) -> dict[str, Any] | None:
    """Arguments for an identity tool from a record's own details, or None if it lacks one."""
    arguments: dict[str, Any] = {}
    for param in params:
        if not param.required:
            continue
        value = next((v for v in find_values(record, {param.name}) if isinstance(v, str) and v), None)
        if value is None:
            return None
        arguments[param.name] = value
    return arguments or None


def _identifies(value: Any, key: str, key_field: str | None) -> bool:
    if isinstance(value, str):
        return value == key
    return isinstance(value, Mapping) and key_field is not None and value.get(key_field) == key


async def _identity_tools(graph: ToolGraph, seed: State, scratch: EnvSession) -> dict[str, list[str]]:
    """Per collection, the reads that return one of its records (or its key) from the record's details."""
    found: dict[str, list[str]] = {}
    candidates = []
    for tool in graph.reads:
        params = graph.params[tool]
        required = [p for p in params if p.required]
        if required and not any(p.is_id or p.kind in ("array", "object") for p in required):
            candidates.append(tool)
    if not candidates:
        return found
    await scratch.reset()
    for collection, records in seed.items():
        keys = sorted(k for k in records if isinstance(k, str))
        if len(keys) < 2:
            continue
        sample = [keys[0], keys[len(keys) // 2], keys[-1]][:_SAMPLES]
        for tool in candidates:
            works = True
            for key in sample:
                record = records[key]
                arguments = _identity_arguments(graph.params[tool], record) if isinstance(record, Mapping) else None
                if arguments is None:
                    works = False
                    break
                result = await scratch.call(tool, arguments)
                if not (result.ok and _identifies(result.value, key, graph.key_fields.get(collection))):
                    works = False
                    break
            if works:
                found.setdefault(collection, []).append(tool)
    return found


def _takers(graph: ToolGraph, collection: str) -> int:
    """How many write parameters take a key of `collection`."""
    return sum(1 for tool in graph.writes for p in graph.params[tool] if p.ref == collection)


def _has_email(records: Mapping[str, Any]) -> bool:
    for record in list(records.values())[:20]:
        if isinstance(record, Mapping) and any(isinstance(k, str) and "email" in k for k in leaves(record)):
            return True
    return False


async def _creators(
    graph: ToolGraph, principal: str, scratch: EnvSession, values: ValueSource, view: StateView
) -> list[str]:
    """Writes that create a principal record from details alone (no reference among their parameters)."""
    found = []
    rng = random.Random(f"creators:{principal}")
    for tool in graph.writes:
        params = graph.params[tool]
        if any(p.ref or p.is_id for p in params if p.required):
            continue
        for _ in range(3):
            await scratch.reset()
            arguments = {
                p.name: values.fresh(p, rng) if p.kind == "string" and not p.enum else values.value(p, rng, view, [])
                for p in params
                if p.required
            }
            result = await scratch.call(tool, arguments)
            if result.ok:
                created = (await scratch.changes()).get(principal) or {}
                if any(key not in (view.seed.get(principal) or {}) for key in created):
                    found.append(tool)
                break
    await scratch.reset()
    return found


async def discover_world(graph: ToolGraph, seed: State, scratch: EnvSession, values: ValueSource) -> World:
    """Find the principal, its identity tools and creators, on `scratch` (left reset to the seed)."""
    links: dict[str, list[Link]] = {}
    for link in graph.links:
        links.setdefault(link.collection, []).append(link)
    world = World(links=links)
    linked = {link.target for link in graph.links}
    identity = await _identity_tools(graph, seed, scratch)
    if identity:
        world.principal = max(sorted(identity), key=lambda c: (_takers(graph, c), c in linked))
        world.identity = identity[world.principal]
    else:
        people = [
            c for c in sorted(seed) if c in linked and _takers(graph, c) and _has_email(seed[c]) and len(seed[c]) > 1
        ]
        if people:
            world.principal = max(people, key=lambda c: _takers(graph, c))
            world.key_known = True
    if world.principal is not None:
        world.creators = await _creators(graph, world.principal, scratch, values, StateView(seed, {}))
    return world
