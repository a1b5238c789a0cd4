"""Sample call chains that succeed from the seed, the way one user's request would run.

A chain belongs to one user. Where the environment has a principal
(`_world.World`), the chain first establishes who the user is: an identity
call with the principal's own details (`find_guest(email)`), a registration
(`register_guest(name, email, phone)`), or, where no tool identifies users,
the key the user states. Then come a few *goals* (writes, or one read for an
information request), each preceded by the *lookups* it needs.

Two rules make a chain something a real user could ask for and a
policy-abiding assistant could do:

- every record a call names, and every record the chain changes, belongs to
  the user or to nobody (`World.allowed`);
- every internal id a call takes (a key, a card's method id) was shown by an
  earlier call's result in the same chain, and existed before the chain: a
  user cannot name a card the chain itself issued. Lookups reveal ids from
  facts the user knows (their bookings from their guest id, a room from the
  city and dates); a goal whose ids no lookup reveals is dropped.

Only calls that succeed are kept; a refused call changes nothing (calls are
atomic), and a goal dropped after it ran is undone by resetting the session.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mcpfactory.synth._session import EnvSession
from mcpfactory.synth._values import OMIT, StateView, ValueSource, find_values, label, leaves
from mcpfactory.synth._world import World
from mcpfactory.synth.graph import Param, ToolGraph

__all__ = ["Chain", "ChainSampler", "Step", "id_strings", "policy_problems"]

State = Mapping[str, Mapping[str, Any]]
Role = Literal["identity", "goal", "lookup"]
_SEARCH = ("text", "query", "q", "search", "keyword", "title_contains")
_GOAL_ATTEMPTS = 24
_WRITE_GOALS = ((0, 0.2), (1, 0.45), (2, 0.25), (3, 0.1))
_REGISTER_RATE = 0.2
_IDENTITY_READ_RATE = 0.15
_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a chain, what it returned, and the session's changes before it."""

    tool: str
    arguments: dict[str, Any]
    value: Any
    text: str
    role: Role
    read_only: bool
    before: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Chain:
    """Calls that succeed in order from the seed, the user they serve, and the session's changes after them.

    `principal` is the user's key (None where the environment has no
    principal); `identity` the details the user gives to say who they are.
    """

    steps: tuple[Step, ...]
    changes: dict[str, dict[str, Any]]
    principal: str | None = None
    identity: tuple[tuple[str, Any], ...] = ()

    @property
    def writes(self) -> list[Step]:
        return [s for s in self.steps if not s.read_only]

    @property
    def goals(self) -> list[Step]:
        return [s for s in self.steps if s.role == "goal"]


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    total = sum(weight for _, weight in options)
    point = rng.random() * total
    for value, weight in options:
        point -= weight
        if point <= 0:
            return value
    return options[-1][0]


def holds(value: Any, key: Any) -> bool:
    """Whether a result mentions `key` anywhere (as a value or a mapping key)."""
    return any(leaf == key for leaf in leaves(value))


def id_strings(state: State) -> set[str]:
    """Strings that are internal ids in a state: record keys, and values of fields named `id` or `*_id(s)`."""
    found: set[str] = set()

    def walk(node: Any, depth: int) -> None:
        if depth > 6:
            return
        if isinstance(node, Mapping):
            for name, value in node.items():
                if isinstance(name, str) and (name == "id" or name.endswith(("_id", "_ids"))):
                    items = value if isinstance(value, list) else [value]
                    found.update(v for v in items if isinstance(v, str))
                walk(value, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)

    for records in state.values():
        found.update(k for k in records if isinstance(k, str))
        for record in records.values():
            walk(record, 0)
    return found


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass
class _Draft:
    """A chain being drawn: its steps, the user, what they have been shown and what the chain made."""

    principal: str | None = None
    identity: tuple[tuple[str, Any], ...] = ()
    steps: list[Step] = field(default_factory=list)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    revealed: set[Any] = field(default_factory=set)
    generated: set[Any] = field(default_factory=set)


class ChainSampler:
    """Draws chains on `main`; `scratch` (another session of the same server) tries lookups and perturbations."""

    def __init__(
        self,
        main: EnvSession,
        scratch: EnvSession,
        graph: ToolGraph,
        seed: State,
        values: ValueSource,
        world: World,
        *,
        max_steps: int = 8,
    ) -> None:
        self.main = main
        self.scratch = scratch
        self.graph = graph
        self.seed = seed
        self.values = values
        self.world = world
        self.max_steps = max_steps
        self.calls = 0
        self.kept: dict[str, int] = {}  # goals of the chains drawn so far, per tool, to spread goals over tools
        self.seed_ids = id_strings(seed)
        self.seed_strings = {leaf for records in seed.values() for leaf in leaves(records) if isinstance(leaf, str)}
        self.principals = sorted((seed.get(world.principal) or {}) if world.principal else ())

    # ------------------------------------------------------------------ the rules

    def internal(self, param: Param | None, value: Any, generated: set[Any] = frozenset()) -> bool:  # type: ignore[assignment]
        """Whether a value is an internal id the user cannot make up (a key, a method id)."""
        if param is not None and (param.enum or param.kind == "boolean"):
            return False
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return param is not None and param.is_id
        if not isinstance(value, str) or not any(ch.isdigit() for ch in value):
            return False
        return (param is not None and param.is_id) or value in self.seed_ids or value in generated

    def knows(self, draft: _Draft, value: Any) -> bool:
        """Whether the chain has shown the user this id, and it is not one the chain itself made."""
        return value in draft.revealed and (value not in draft.generated or value == draft.principal)

    def call_ids(self, tool: str, arguments: Mapping[str, Any], generated: set[Any]) -> Iterator[Any]:
        params = {p.name: p for p in self.graph.params[tool]}
        for name, value in arguments.items():
            for item in _items(value):
                if self.internal(params.get(name), item, generated):
                    yield item

    def named_records(self, tool: str, arguments: Mapping[str, Any], view: StateView) -> list[tuple[str, str]]:
        """The `(collection, key)` of each record the arguments name."""
        params = {p.name: p for p in self.graph.params[tool]}
        named = []
        for name, value in arguments.items():
            param = params.get(name)
            for item in _items(value):
                collection = self._collection(param, item, view) if param is not None else None
                if collection is not None:
                    named.append((collection, item))
        return named

    def ref_of(self, tool: str, name: str) -> str | None:
        """The collection a tool's parameter refers to, if any."""
        return next((p.ref for p in self.graph.params[tool] if p.name == name), None)

    @staticmethod
    def _collection(param: Param, value: Any, view: StateView) -> str | None:
        if not isinstance(value, str):
            return None
        if param.ref:
            return param.ref if view.contains(param.ref, value) else None
        return view.collection_of(value) if param.is_id or param.kind == "array" else None

    def allowed_call(self, principal: str | None, tool: str, arguments: Mapping[str, Any], view: StateView) -> bool:
        return all(self.world.allowed(view, principal, c, k) for c, k in self.named_records(tool, arguments, view))

    # ------------------------------------------------------------------ chains

    async def sample(self, rng: random.Random) -> Chain | None:
        """One chain, or `None` when the user could not be identified or no goal succeeded."""
        await self.main.reset()
        draft = _Draft()
        if self.world.principal is not None and not await self._identify(rng, draft):
            return None
        graph = self.graph
        n_writes = _weighted(rng, _WRITE_GOALS) if graph.writes else 0
        identity = set(self.world.identity)
        reads = [t for t in graph.reads if t not in identity]
        # A user who is someone already never registers someone else.
        writes = [t for t in graph.writes if t not in self.world.creators or draft.principal is None]
        pool = writes if n_writes else [t for t in reads if graph.params[t]] or reads
        profile = bool(draft.steps) and draft.steps[0].role == "identity" and draft.steps[0].read_only
        if not n_writes and profile and (not pool or rng.random() < _IDENTITY_READ_RATE):
            # The information asked for is the user's own profile.
            return Chain((_as_goal(draft.steps[0]),), {}, draft.principal, draft.identity)
        if not pool:
            return None
        used: dict[str, int] = {}
        preferred: list[str] = []
        goals = 0
        for _ in range(max(1, n_writes)):
            if len(draft.steps) >= self.max_steps:
                break
            view = StateView(self.seed, draft.changes)
            found = await self._goal(rng, pool, used, preferred, view, draft)
            if found is None:
                continue
            goal, named = found
            lookups = await self._lookups(rng, goal, named, view, draft)
            if lookups is None or len(draft.steps) + len(lookups) + 1 > self.max_steps:
                if not goal.read_only:
                    await self.main.reset({"patch": draft.changes} if draft.changes else None)
                continue
            for step in [*lookups, goal]:
                draft.steps.append(step)
                draft.revealed.update(leaves(step.value))
            goals += 1
            used[goal.tool] = used.get(goal.tool, 0) + 1
            self.kept[goal.tool] = self.kept.get(goal.tool, 0) + 1
            if not goal.read_only:
                draft.changes = await self.main.changes()
                self._mark_generated(draft)
            preferred.extend(v for v in leaves(goal.value) if isinstance(v, str) and v not in preferred)
            if goal.read_only:
                break
        if not goals:
            return None
        return Chain(tuple(draft.steps), draft.changes, draft.principal, draft.identity)

    def _mark_generated(self, draft: _Draft) -> None:
        """Ids that exist only because the chain made them (a new card, a new booking)."""
        for records in draft.changes.values():
            for key, record in records.items():
                for item in (key, *leaves(record)):
                    if isinstance(item, str) and item not in self.seed_strings:
                        draft.generated.add(item)

    async def _identify(self, rng: random.Random, draft: _Draft) -> bool:
        """Establish the user: register a new principal, call an identity tool, or have them state their key."""
        world = self.world
        if world.creators and rng.random() < _REGISTER_RATE:
            return await self._register(rng, draft)
        if not self.principals:
            return False
        key = rng.choice(self.principals)
        record = self.seed[str(world.principal)][key]
        if world.identity:
            tool = rng.choice(world.identity)
            arguments = {}
            for param in self.graph.params[tool]:
                if param.required:
                    value = next((v for v in find_values(record, {param.name}) if isinstance(v, str) and v), None)
                    if value is None:
                        return False
                    arguments[param.name] = value
            self.calls += 1
            result = await self.main.call(tool, arguments)
            if not result.ok:
                return False
            draft.steps.append(Step(tool, arguments, result.value, result.text, "identity", True))
            draft.revealed.update(leaves(result.value))
            draft.identity = tuple(arguments.items())
        else:
            draft.revealed.add(key)
            draft.identity = ((self.graph.key_fields.get(str(world.principal)) or "id", key),)
        draft.principal = key
        return True

    async def _register(self, rng: random.Random, draft: _Draft) -> bool:
        principal = str(self.world.principal)
        tool = rng.choice(self.world.creators)
        view = StateView(self.seed, {})
        for _ in range(4):
            arguments = {}
            for param in self.graph.params[tool]:
                if not param.required:
                    continue
                fresh = param.kind == "string" and not param.enum and not self.values.is_date(param)
                arguments[param.name] = (
                    self.values.fresh(param, rng) if fresh else self.values.value(param, rng, view, [])
                )
            self.calls += 1
            result = await self.main.call(tool, arguments)
            if not result.ok:
                continue
            changes = await self.main.changes()
            created = [k for k in changes.get(principal) or {} if k not in self.seed[principal]]
            if len(created) != 1:
                await self.main.reset()
                return False
            draft.steps.append(Step(tool, arguments, result.value, result.text, "identity", False))
            draft.changes = changes
            draft.principal = created[0]
            draft.identity = tuple(arguments.items())
            self._mark_generated(draft)
            draft.revealed.update(leaves(result.value))
            return True
        return False

    # ------------------------------------------------------------------ goals

    async def _goal(
        self,
        rng: random.Random,
        pool: Sequence[str],
        used: Mapping[str, int],
        preferred: Sequence[str],
        view: StateView,
        draft: _Draft,
    ) -> tuple[Step, list[tuple[str, str]]] | None:
        weights = []
        for tool in pool:
            if not self._feasible(tool, view, draft.principal):
                continue
            weight = 1.0 / (1 + used.get(tool, 0)) / (1 + self.kept.get(tool, 0) / 4)
            refs = {p.ref for p in self.graph.params[tool] if p.ref}
            if preferred and any(view.contains(ref, key) for ref in refs for key in preferred[-20:]):
                weight *= 3
            weights.append((tool, weight))
        if not weights:
            return None
        for _ in range(_GOAL_ATTEMPTS):
            tool = _weighted(rng, weights)
            arguments, named = self.propose(tool, rng, view, draft.principal, preferred)
            if not all(self.world.allowed(view, draft.principal, c, k) for c, k in named):
                continue
            if any(
                item in draft.generated and item != draft.principal
                for item in self.call_ids(tool, arguments, draft.generated)
            ):
                continue
            self.calls += 1
            result = await self.main.call(tool, arguments)
            if not result.ok:
                continue
            info = self.graph.tools[tool]
            if not info.read_only and not self._changes_allowed(await self.main.changes(), draft):
                # It made or changed someone else's record (registered a second user): not this user's request.
                await self.main.reset({"patch": draft.changes} if draft.changes else None)
                continue
            step = Step(tool, arguments, result.value, result.text, "goal", info.read_only, draft.changes)
            return step, named
        return None

    def _feasible(self, tool: str, view: StateView, principal: str | None) -> bool:
        """Whether every record the tool must name has a candidate the user may name."""
        for param in self.graph.params[tool]:
            if param.required and param.ref and not self.world.candidates(view, principal, param.ref):
                return False
        return True

    def _changes_allowed(self, changes: State, draft: _Draft) -> bool:
        if self.world.principal is None:
            return True
        start, final = StateView(self.seed, draft.changes), StateView(self.seed, changes)
        for collection, records in changes.items():
            for key, record in records.items():
                if (draft.changes.get(collection) or {}).get(key, _UNSET) == record:
                    continue
                for view in (start, final):
                    if view.contains(collection, key) and not self.world.allowed(
                        view, draft.principal, collection, key
                    ):
                        return False
        return True

    def propose(
        self,
        tool: str,
        rng: random.Random,
        view: StateView,
        principal: str | None = None,
        preferred: Sequence[str] = (),
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Arguments for `tool` about the user's world, and the `(collection, key)` of each record they name."""
        params = sorted(self.graph.params[tool], key=lambda p: (p.ref is None, not p.required))
        arguments: dict[str, Any] = {}
        focus: list[Any] = []
        if principal is not None and self.world.principal is not None:
            focus.append(view.get(self.world.principal, principal))
        named: list[tuple[str, str]] = []

        def allow(collection: str, key: str) -> bool:
            return self.world.allowed(view, principal, collection, key)

        def choices(collection: str) -> list[str]:
            return self.world.candidates(view, principal, collection)

        for param in params:
            value = self.values.propose(param, rng, view, focus, preferred, arguments, allow, choices)
            if value is OMIT:
                continue
            arguments[param.name] = value
            for item in _items(value):
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

    # ------------------------------------------------------------------ lookups

    async def _lookups(
        self, rng: random.Random, goal: Step, named: Sequence[tuple[str, str]], view: StateView, draft: _Draft
    ) -> list[Step] | None:
        """Reads that reveal the ids the goal takes, run on the scratch session in the pre-goal state.

        None when an id cannot be revealed, or is one the chain made.
        """
        return await self.reveal_ids(rng, goal.tool, goal.arguments, named, view, draft)

    async def reveal_ids(
        self,
        rng: random.Random,
        tool: str,
        arguments: Mapping[str, Any],
        named: Sequence[tuple[str, str]],
        view: StateView,
        draft: _Draft,
    ) -> list[Step] | None:
        """Lookups that show the user every internal id of a call they are about to ask for, or None."""
        needed = []
        for item in self.call_ids(tool, arguments, draft.generated):
            if item in draft.generated and item != draft.principal:
                return None
            if not self.knows(draft, item) and item not in needed:
                needed.append(item)
        if not needed:
            return []
        await self.scratch.reset({"patch": draft.changes} if draft.changes else None)
        known = set(draft.revealed)
        found: list[Step] = []
        focus = [(c, k) for c, k in named]
        if draft.principal is not None and self.world.principal is not None:
            focus.append((self.world.principal, draft.principal))
        for item in needed[:3]:
            if item in known:
                continue
            target = self._holder(item, view, focus)
            if target is None:
                return None
            context = {"arguments": arguments, "named": named, "principal": draft.principal}
            revealed = await self._reveal(rng, target, item, view, 2, {tool}, known, context)
            if revealed is None:
                return None
            for step in revealed:
                if all(step.tool != s.tool or step.arguments != s.arguments for s in found):
                    found.append(step)
                    known.update(leaves(step.value))
        return found

    def _holder(self, item: Any, view: StateView, focus: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
        """The record an id names, or the record (in focus) that holds it nested (a card inside a guest)."""
        collection = view.collection_of(item)
        if collection is not None:
            return collection, str(item)
        for coll, key in focus:
            if holds(view.get(coll, key), item):
                return coll, key
        return None

    async def _reveal(
        self,
        rng: random.Random,
        target: tuple[str, str],
        wanted: Any,
        view: StateView,
        depth: int,
        exclude: set[str],
        known: set[Any],
        context: Mapping[str, Any],
    ) -> list[Step] | None:
        collection, key = target
        record = view.get(collection, key)
        if record is None:
            return None
        identity = set(self.world.identity)
        tools = [t for t in self.graph.reads if t not in exclude and t not in identity]
        rng.shuffle(tools)
        key_field = self.graph.key_fields.get(collection)
        tools.sort(key=lambda t: not (key_field and key_field in self.graph.output_fields.get(t, ())))
        principal = context.get("principal")
        for tool in tools[:6]:
            proposal = self._lookup_arguments(tool, target, wanted, record, view, rng, known, context)
            if proposal is None:
                continue
            arguments, needs = proposal
            if not self.allowed_call(principal, tool, arguments, view):
                continue
            before: list[Step] = []
            inner = set(known)
            for need in needs:
                holder = self._holder(need, view, [target])
                nested = (
                    await self._reveal(rng, holder, need, view, depth - 1, exclude | {tool}, inner, context)
                    if depth > 1 and holder is not None
                    else None
                )
                if nested is None:
                    break
                before.extend(nested)
                inner.update(leaf for step in nested for leaf in leaves(step.value))
            else:
                self.calls += 1
                result = await self.scratch.call(tool, arguments)
                if result.ok and holds(result.value, wanted):
                    return [*before, Step(tool, arguments, result.value, result.text, "lookup", True, view.changes)]
        return None

    def _lookup_arguments(
        self,
        tool: str,
        target: tuple[str, str],
        wanted: Any,
        record: Any,
        view: StateView,
        rng: random.Random,
        known: set[Any],
        context: Mapping[str, Any],
    ) -> tuple[dict[str, Any], list[Any]] | None:
        """Arguments from what the user knows about the record (its fields, the records it links to,
        the request's own details), and the internal ids among them not shown yet."""
        collection, key = target
        sources: list[Any] = [record]
        for link in self.world.links.get(collection, ()):
            for other in link.keys(record) if isinstance(record, Mapping) else ():
                sources.append(view.get(link.target, other))
        sources.append(dict(context.get("arguments") or {}))
        sources += [view.get(c, k) for c, k in context.get("named") or ()]
        arguments: dict[str, Any] = {}
        needs: list[Any] = []
        for param in self.graph.params[tool]:
            value: Any = None
            if param.ref == collection:
                if key == wanted or key not in known:
                    if param.required:
                        return None
                    continue
                value = key
            elif param.name in _SEARCH and param.kind == "string":
                value = label(record)
            else:
                for source in sources:
                    value = next(
                        (c for c in find_values(source, {param.name}) if c != wanted and _fits(c, param.kind)), None
                    )
                    if value is not None:
                        break
            if value is None or (param.enum and value not in param.enum):
                if param.required:
                    return None
                continue
            if not param.required and value != key and rng.random() < 0.5:
                continue
            arguments[param.name] = value
            if self.internal(param, value) and value not in known:
                needs.append(value)
        return (arguments, needs) if arguments else None


def _as_goal(step: Step) -> Step:
    return Step(step.tool, step.arguments, step.value, step.text, "goal", step.read_only, step.before)


def policy_problems(chain: Chain, sampler: ChainSampler) -> list[str]:
    """Why a chain breaks the one-user rules (empty when it keeps them), checked afresh from its steps.

    - every record a call names belongs to the user or to nobody, in the state before that call;
    - every record the chain changed belonged, before and after, to the user or to nobody;
    - every internal id a call takes was shown by an earlier result and not made by the chain.
    """
    world, seed = sampler.world, sampler.seed
    problems: list[str] = []
    principal = chain.principal
    shown: set[Any] = set()
    made: set[Any] = set()
    for index, step in enumerate(chain.steps):
        view = StateView(seed, step.before)
        for collection, key in sampler.named_records(step.tool, step.arguments, view):
            if not world.allowed(view, principal, collection, key):
                problems.append(f"call {index + 1} {step.tool} names {collection}[{key}] of another user")
        if step.role != "identity" or not step.read_only:
            for item in sampler.call_ids(step.tool, step.arguments, made):
                known = (item in shown and item not in made) or (item == principal and item in shown)
                if not known and not (world.key_known and item == principal):
                    problems.append(f"call {index + 1} {step.tool} takes {item!r}, which the user was never shown")
        shown.update(leaves(step.value))
        if not step.read_only:
            after = chain.steps[index + 1].before if index + 1 < len(chain.steps) else chain.changes
            for records in after.values():
                for key, record in records.items():
                    made.update(
                        x for x in (key, *leaves(record)) if isinstance(x, str) and x not in sampler.seed_strings
                    )
    start, final = StateView(seed, {}), StateView(seed, chain.changes)
    for collection, records in chain.changes.items():
        for key in records:
            for view, when in ((start, "before"), (final, "after")):
                if view.contains(collection, key) and not world.allowed(view, principal, collection, key):
                    problems.append(f"{collection}[{key}] belongs to another user {when} the chain")
    return problems


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
