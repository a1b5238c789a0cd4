"""Sample call chains that succeed from the seed, on a live session of the environment.

A chain is a few *goals* (writes, or one read for an information request),
each preceded by the *lookups* a user's request would need: read calls that,
from facts about a record a person would know (an email, a name, a title),
reveal the record's id that the goal takes (`find_guest(email)` before
`book_room(guest_id)`). Lookups nest: a lookup's own id argument can need a
lookup (email -> user id -> the user's orders -> an order id).

Only calls that succeed are kept; a refused call changes nothing (calls are
atomic), so dropping it leaves the rest of the chain valid.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mcpfactory.synth._session import EnvSession
from mcpfactory.synth._values import OMIT, StateView, ValueSource, find_values, label, leaves
from mcpfactory.synth.graph import Param, ToolGraph

__all__ = ["Chain", "ChainSampler", "Step"]

State = Mapping[str, Mapping[str, Any]]
_SEARCH = ("text", "query", "q", "search", "keyword", "title_contains")
_GOAL_ATTEMPTS = 24
_WRITE_GOALS = ((0, 0.2), (1, 0.45), (2, 0.25), (3, 0.1))


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a chain and what it returned."""

    tool: str
    arguments: dict[str, Any]
    value: Any
    text: str
    role: Literal["goal", "lookup"]
    read_only: bool


@dataclass(frozen=True, slots=True)
class Chain:
    """Calls that succeed in order from the seed, and the session's changes after them."""

    steps: tuple[Step, ...]
    changes: dict[str, dict[str, Any]]

    @property
    def writes(self) -> list[Step]:
        return [s for s in self.steps if not s.read_only]


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    total = sum(weight for _, weight in options)
    point = rng.random() * total
    for value, weight in options:
        point -= weight
        if point <= 0:
            return value
    return options[-1][0]


def holds(value: Any, key: str) -> bool:
    """Whether a result mentions `key` anywhere (as a value or a mapping key)."""
    return any(leaf == key for leaf in leaves(value))


class ChainSampler:
    """Draws chains on `main`; `scratch` (another session of the same server) tries lookups."""

    def __init__(
        self,
        main: EnvSession,
        scratch: EnvSession,
        graph: ToolGraph,
        seed: State,
        values: ValueSource,
        *,
        max_steps: int = 8,
        lookup_rate: float = 0.75,
    ) -> None:
        self.main = main
        self.scratch = scratch
        self.graph = graph
        self.seed = seed
        self.values = values
        self.max_steps = max_steps
        self.lookup_rate = lookup_rate
        self.calls = 0

    async def sample(self, rng: random.Random) -> Chain | None:
        """One chain, or `None` when no goal succeeded."""
        await self.main.reset()
        graph = self.graph
        n_writes = _weighted(rng, _WRITE_GOALS) if graph.writes else 0
        pool = graph.writes if n_writes else [t for t in graph.reads if graph.params[t]] or graph.reads
        if not pool:
            return None
        changes: dict[str, dict[str, Any]] = {}
        steps: list[Step] = []
        used: dict[str, int] = {}
        preferred: list[str] = []
        for _ in range(max(1, n_writes)):
            if len(steps) >= self.max_steps:
                break
            view = StateView(self.seed, changes)
            found = await self._goal(rng, pool, used, preferred, view)
            if found is None:
                continue
            goal, focus_keys = found
            used[goal.tool] = used.get(goal.tool, 0) + 1
            lookups = await self._lookups(rng, goal, focus_keys, view, steps, changes)
            room = self.max_steps - len(steps) - 1
            steps.extend(lookups if len(lookups) <= room else [])
            steps.append(goal)
            if not goal.read_only:
                changes = await self.main.changes()
            preferred.extend(v for v in leaves(goal.value) if isinstance(v, str) and v not in preferred)
            if goal.read_only:
                break
        if not steps:
            return None
        return Chain(tuple(steps), changes)

    # ------------------------------------------------------------------ goals

    async def _goal(
        self,
        rng: random.Random,
        pool: Sequence[str],
        used: Mapping[str, int],
        preferred: Sequence[str],
        view: StateView,
    ) -> tuple[Step, list[tuple[str, str]]] | None:
        weights = []
        for tool in pool:
            weight = 1.0 / (1 + used.get(tool, 0))
            refs = {p.ref for p in self.graph.params[tool] if p.ref}
            if preferred and any(view.contains(ref, key) for ref in refs for key in preferred[-20:]):
                weight *= 3
            weights.append((tool, weight))
        for _ in range(_GOAL_ATTEMPTS):
            tool = _weighted(rng, weights)
            arguments, focus_keys = self.propose(tool, rng, view, preferred)
            self.calls += 1
            result = await self.main.call(tool, arguments)
            if result.ok:
                info = self.graph.tools[tool]
                step = Step(tool, arguments, result.value, result.text, "goal", info.read_only)
                return step, focus_keys
        return None

    def propose(
        self, tool: str, rng: random.Random, view: StateView, preferred: Sequence[str] = ()
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Arguments for `tool`, and the `(collection, key)` of each record they name."""
        params = sorted(self.graph.params[tool], key=lambda p: (p.ref is None, not p.required))
        arguments: dict[str, Any] = {}
        focus: list[Any] = []
        named: list[tuple[str, str]] = []
        for param in params:
            value = self.values.propose(param, rng, view, focus, preferred, arguments)
            if value is OMIT:
                continue
            arguments[param.name] = value
            for item in value if isinstance(value, list) else [value]:
                collection = self._collection(param, item, view)
                if collection is None:
                    continue
                named.append((collection, item))
                record = view.get(collection, item)
                focus.append(record)
                for leaf in leaves(record):
                    other = view.collection_of(leaf) if isinstance(leaf, str) and leaf != item else None
                    if other is not None and len(focus) < 12:
                        focus.append(view.get(other, leaf))
        return arguments, named

    @staticmethod
    def _collection(param: Param, value: Any, view: StateView) -> str | None:
        if not isinstance(value, str):
            return None
        if param.ref:
            return param.ref if view.contains(param.ref, value) else None
        return view.collection_of(value) if param.is_id or param.kind == "array" else None

    # ------------------------------------------------------------------ lookups

    async def _lookups(
        self,
        rng: random.Random,
        goal: Step,
        named: Sequence[tuple[str, str]],
        view: StateView,
        steps: Sequence[Step],
        changes: State,
    ) -> list[Step]:
        """Reads that reveal the ids the goal takes, run on the scratch session in the pre-goal state."""
        known = {leaf for step in steps for leaf in leaves(step.value) if isinstance(leaf, str)}
        targets = []
        for collection, key in named:
            if key not in known and (collection, key) not in targets:
                targets.append((collection, key))
        if not targets or rng.random() >= self.lookup_rate:
            return []
        await self.scratch.reset({"patch": changes} if changes else None)
        found: list[Step] = []
        for collection, key in targets[:2]:
            revealed = await self._reveal(rng, collection, key, view, depth=2, exclude={goal.tool})
            for step in revealed or []:
                if all(step.tool != s.tool or step.arguments != s.arguments for s in found):
                    found.append(step)
        return found

    async def _reveal(
        self, rng: random.Random, collection: str, key: str, view: StateView, depth: int, exclude: set[str]
    ) -> list[Step] | None:
        record = view.get(collection, key)
        if record is None:
            return None
        tools = [t for t in self.graph.reads if t not in exclude]
        rng.shuffle(tools)
        key_field = self.graph.key_fields.get(collection)
        tools.sort(key=lambda t: not (key_field and key_field in self.graph.output_fields.get(t, ())))
        for tool in tools[:6]:
            proposal = self._lookup_arguments(tool, collection, key, record, view, rng)
            if proposal is None:
                continue
            arguments, needs = proposal
            before: list[Step] = []
            for other_collection, other_key in needs[:1]:
                if depth > 1:
                    nested = await self._reveal(rng, other_collection, other_key, view, depth - 1, exclude | {tool})
                    before.extend(nested or [])
            self.calls += 1
            result = await self.scratch.call(tool, arguments)
            if result.ok and holds(result.value, key):
                return [*before, Step(tool, arguments, result.value, result.text, "lookup", True)]
        return None

    def _lookup_arguments(
        self, tool: str, collection: str, key: str, record: Any, view: StateView, rng: random.Random
    ) -> tuple[dict[str, Any], list[tuple[str, str]]] | None:
        arguments: dict[str, Any] = {}
        needs: list[tuple[str, str]] = []
        for param in self.graph.params[tool]:
            if param.ref == collection:
                if param.required:
                    return None
                continue
            value: Any = None
            if param.name in _SEARCH and param.kind == "string":
                value = label(record)
            else:
                for candidate in find_values(record, {param.name}):
                    if candidate != key and _fits(candidate, param.kind):
                        value = candidate
                        break
            if value is None or (param.enum and value not in param.enum):
                if param.required:
                    return None
                continue
            if not param.required and rng.random() < 0.5:
                continue
            arguments[param.name] = value
            other = self._collection(param, value, view)
            if other is not None:
                needs.append((other, value))
        return (arguments, needs) if arguments else None


def _fits(value: Any, kind: str) -> bool:
    if kind in ("array", "object"):
        return False
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return True
