"""Draw tool calls and call sequences with hypothesis: from each tool's input schema and from the seed.

Arguments drawn from a schema alone rarely name a record that exists, so every
parameter also draws from pools taken from the environment: the seed's keys
for `ref[...]` parameters (the tool's `_meta["io.mcpfactory/refs"]`) and for parameters
named like a collection's key, the seed's values of fields with the same name,
and the arguments of the spec's examples and of the tasks' solutions. Keys
created earlier in the same sequence are reached through `CreatedKey`, which
the executor resolves against the session's changes.

Generation is seeded and never shrinks: a sequence is drawn first and run
afterwards, so drawing stays pure and a slow call is never run twice to shrink
it.

hypothesis-jsonschema draws the scalar leaves; objects and arrays are walked
here because its object strategy does not run on this hypothesis version
(`cu.many(...).more()` was removed from hypothesis internals).
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import hypothesis
import hypothesis.strategies as st
import jsonschema
import mcp_types as types
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis_jsonschema import from_schema

from mcpfactory.runtime import REFS_META_KEY, KeyKind, key_from_wire
from mcpfactory.spec import LoadedSpec

__all__ = ["Call", "CallSpace", "CreatedKey", "draw_many"]

_POOL_LIMIT = 60
_WRONG_VALUES: tuple[Any, ...] = (None, 0, -1, 2.5, True, "", "not-a-value", [], {}, [1], {"unexpected": 1})
_UNKNOWN_PARAM = "unexpected_parameter"
_UNSET = object()


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A placeholder for the key of a record created earlier in the same sequence."""

    collection: str
    index: int


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call to make; `meant_valid` is False for arguments deliberately broken."""

    tool: str
    arguments: Mapping[str, Any]
    meant_valid: bool = True


def draw_many(strategy: st.SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    """Draw `count` values from `strategy`, the same ones for the same seed."""
    drawn: list[Any] = []

    @hypothesis.seed(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        derandomize=False,
    )
    @hypothesis.given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn[:count]


def weighted(choices: Sequence[tuple[int, st.SearchStrategy[Any]]]) -> st.SearchStrategy[Any]:
    """Draw from one of `choices`, each picked in proportion to its weight.

    (`st.one_of` with a strategy repeated does not weight it: repeats collapse.)
    """
    choices = [(w, s) for w, s in choices if w > 0]
    if len(choices) == 1:
        return choices[0][1]
    bounds: list[int] = []
    total = 0
    for w, _ in choices:
        total += w
        bounds.append(total)

    def pick(n: int) -> st.SearchStrategy[Any]:
        return next(s for (_, s), bound in zip(choices, bounds, strict=True) if n < bound)

    return st.integers(0, total - 1).flatmap(pick)


def _scalar_values(records: Iterable[Mapping[str, Any]]) -> dict[str, set[Any]]:
    values: dict[str, set[Any]] = {}
    for record in records:
        for name, value in record.items():
            if isinstance(value, str | int | float | bool) or value is None:
                values.setdefault(name, set()).add(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, str | int | float | bool):
                        values.setdefault(name, set()).add(item)
    return values


def _pool(values: Iterable[Any]) -> list[Any]:
    ordered = sorted(set(values), key=lambda v: (type(v).__name__, repr(v)))
    if len(ordered) <= _POOL_LIMIT:
        return ordered
    step = len(ordered) / _POOL_LIMIT
    return [ordered[int(i * step)] for i in range(_POOL_LIMIT)]


class CallSpace:
    """The calls worth making to one environment, as hypothesis strategies."""

    def __init__(
        self,
        tools: Mapping[str, types.Tool],
        spec: LoadedSpec,
        known_calls: Iterable[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        self.tools = {name: tool for name, tool in tools.items() if name in spec.spec.tools}
        self.spec = spec
        self.key_kinds: dict[str, KeyKind] = {coll: key.kind for coll, key in spec.keys.items()}
        self.keys = {coll: [self.argument(coll, key) for key in sorted(records)] for coll, records in spec.seed.items()}
        self.key_names: dict[str, str] = {}
        for coll, coll_spec in spec.spec.collections.items():
            if isinstance(coll_spec.key, str):
                self.key_names.setdefault(coll_spec.key, coll)
        field_values: dict[str, set[Any]] = {}
        for records in spec.seed.values():
            for name, values in _scalar_values(records.values()).items():
                field_values.setdefault(name, set()).update(values)
        self.field_values = {name: _pool(values) for name, values in field_values.items()}
        self.known_args: dict[str, list[dict[str, Any]]] = {}
        self.known_values: dict[tuple[str, str], list[Any]] = {}
        calls = list(known_calls)
        for name, tool_spec in spec.spec.tools.items():
            for example in tool_spec.examples:
                calls.append((name, example.args))
                calls.extend((before.tool, before.args) for before in example.before)
        for tool, arguments in calls:
            if tool not in self.tools or not isinstance(arguments, Mapping):
                continue
            bucket = self.known_args.setdefault(tool, [])
            if dict(arguments) not in bucket:
                bucket.append(dict(arguments))
            for param, value in arguments.items():
                pool = self.known_values.setdefault((tool, param), [])
                if value not in pool:
                    pool.append(value)
        self.validators = {
            name: jsonschema.Draft202012Validator(tool.input_schema) for name, tool in self.tools.items()
        }

    def argument(self, collection: str, key: str) -> Any:
        """A key of `collection`, from its text form in a state, as an argument gives it (a tuple as a JSON array)."""
        value = key_from_wire(key, self.key_kinds.get(collection, "str"))
        return list(value) if isinstance(value, tuple) else value

    # ------------------------------------------------------------------ schema walking
    def schema_strategy(
        self, node: Mapping[str, Any], defs: Mapping[str, Any], depth: int = 0
    ) -> st.SearchStrategy[Any]:
        """Values for a JSON Schema node as pydantic writes them (objects, arrays, anyOf, $ref, leaves)."""
        if depth > 6:
            return st.none()
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return self.schema_strategy(defs[ref.removeprefix("#/$defs/")], defs, depth + 1)
        if "anyOf" in node:
            return st.one_of([self.schema_strategy(branch, defs, depth + 1) for branch in node["anyOf"]])
        if "enum" in node:
            return st.sampled_from(list(node["enum"]))
        if "const" in node:
            return st.just(node["const"])
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            properties = node.get("properties", {})
            required = set(node.get("required", ()))
            extra = node.get("additionalProperties")
            if not properties and isinstance(extra, dict):
                return st.dictionaries(st.text(max_size=8), self.schema_strategy(extra, defs, depth + 1), max_size=3)
            return st.fixed_dictionaries(
                {
                    name: self.schema_strategy(sub, defs, depth + 1)
                    for name, sub in properties.items()
                    if name in required
                },
                optional={
                    name: self.schema_strategy(sub, defs, depth + 1)
                    for name, sub in properties.items()
                    if name not in required
                },
            )
        if kind == "array":
            return st.lists(self.schema_strategy(node.get("items", {}), defs, depth + 1), max_size=4)
        leaf = {k: v for k, v in node.items() if k in ("type", "minimum", "maximum", "minLength", "maxLength")}
        if not leaf:
            return st.one_of(st.none(), st.booleans(), st.integers(-5, 50), st.text(max_size=12))
        return from_schema(leaf)

    # ------------------------------------------------------------------ calls
    def _collection_of(self, tool: str, name: str) -> str | None:
        """The collection whose keys parameter `name` takes: the tool's declared refs, else a key of that name."""
        listed = self.tools.get(tool)
        refs = (listed.meta or {}).get(REFS_META_KEY) if listed is not None else None
        target = refs.get(name) if isinstance(refs, Mapping) else None
        if isinstance(target, str) and target in self.keys:
            return target
        return self.key_names.get(name)

    def param_strategy(
        self, tool: str, name: str, node: Mapping[str, Any], defs: Mapping[str, Any]
    ) -> st.SearchStrategy[Any]:
        options: list[tuple[int, st.SearchStrategy[Any]]] = []
        collection = self._collection_of(tool, name)
        if collection is not None:
            if self.keys[collection]:
                options.append((6, st.sampled_from(self.keys[collection])))
            options.append((2, st.builds(CreatedKey, st.just(collection), st.integers(0, 3))))
        fits = jsonschema.Draft202012Validator({**node, "$defs": defs}).is_valid
        known = [v for v in self.known_values.get((tool, name), []) if fits(v)]
        if known:
            options.append((4, st.sampled_from(known)))
        seen = [v for v in self.field_values.get(name, []) if fits(v)]
        if seen:
            options.append((2, st.sampled_from(seen)))
        options.append((2, self.schema_strategy(node, defs)))
        return weighted(options)

    def arguments(self, tool: str) -> st.SearchStrategy[dict[str, Any]]:
        """Arguments for `tool`: mostly well-typed, drawn from the schema and the pools."""
        schema = self.tools[tool].input_schema
        defs = schema.get("$defs", {})
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        drawn = st.fixed_dictionaries(
            {n: self.param_strategy(tool, n, sub, defs) for n, sub in properties.items() if n in required},
            optional={n: self.param_strategy(tool, n, sub, defs) for n, sub in properties.items() if n not in required},
        )
        known = self.known_args.get(tool)
        if known:
            return weighted([(2, drawn), (1, st.sampled_from(known))])
        return drawn

    def valid_call(self, tool: str) -> st.SearchStrategy[Call]:
        return st.builds(Call, st.just(tool), self.arguments(tool))

    def invalid_call(self, tool: str) -> st.SearchStrategy[Call]:
        """Arguments broken on purpose: a required one missing, an unknown one, or one of the wrong type."""
        schema = self.tools[tool].input_schema
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = sorted(set(schema.get("required", ())))
        wrong: dict[str, list[Any]] = {}
        for name, sub in properties.items():
            check = jsonschema.Draft202012Validator({**sub, "$defs": schema.get("$defs", {})})
            values = [v for v in _WRONG_VALUES if not check.is_valid(v)]
            if values:
                wrong[name] = values
        mutations: list[st.SearchStrategy[tuple[str, str, Any]]] = [st.just(("extra", _UNKNOWN_PARAM, 1))]
        if required:
            mutations.append(st.tuples(st.just("drop"), st.sampled_from(required), st.none()))
        if wrong:
            mutations.append(
                st.sampled_from(sorted(wrong)).flatmap(
                    lambda name: st.tuples(st.just("retype"), st.just(name), st.sampled_from(wrong[name]))
                )
            )

        def broken(arguments: dict[str, Any], mutation: tuple[str, str, Any]) -> Call:
            kind, name, value = mutation
            arguments = dict(arguments)
            if kind == "drop":
                arguments.pop(name, None)
            else:
                arguments[name] = value
            return Call(tool, arguments, meant_valid=False)

        return st.builds(broken, self.arguments(tool), st.one_of(mutations))

    def programs(self, count: int, seed: int, *, max_length: int = 8, invalid_share: int = 6) -> list[list[Call]]:
        """`count` call sequences from the seed state, the same ones for the same seed.

        Which tool comes next is dealt from a shuffled deck, so every tool gets
        its share (hypothesis favours some branches of a `one_of`, which is
        right for finding bugs in one function and wrong for covering fifteen);
        the arguments are hypothesis draws, one in `invalid_share` broken.
        """
        if not self.tools:
            return []
        rng = random.Random(seed)
        lengths = [rng.randint(1, max_length) for _ in range(count)]
        names = sorted(self.tools)
        deck: list[str] = []
        while len(deck) < sum(lengths):
            batch = list(names)
            rng.shuffle(batch)
            deck += batch
        broken = [rng.randrange(invalid_share) == 0 for _ in deck]
        valid_pool = {
            name: draw_many(self.valid_call(name), deck.count(name), seed + index) for index, name in enumerate(names)
        }
        invalid_pool = {
            name: draw_many(self.invalid_call(name), max(1, deck.count(name) // invalid_share + 1), seed + index)
            for index, name in enumerate(names)
        }
        used = dict.fromkeys(names, 0)
        programs: list[list[Call]] = []
        position = 0
        for length in lengths:
            program = []
            for _ in range(length):
                name = deck[position]
                pool = invalid_pool[name] if broken[position] and invalid_pool[name] else valid_pool[name]
                program.append(pool[used[name] % len(pool)])
                used[name] += 1
                position += 1
            programs.append(program)
        return programs

    def domain(self, tool: str, name: str) -> list[Any]:
        """The values worth trying one by one for a parameter: enums, null, keys and the pools."""
        schema = self.tools[tool].input_schema
        node = schema.get("properties", {}).get(name, {})
        branches = [node, *node.get("anyOf", ())]
        values: list[Any] = []
        for branch in branches:
            values += list(branch.get("enum", ()))
            if branch.get("type") == "null":
                values.append(None)
            if branch.get("type") == "boolean":
                values += [True, False]
        collection = self._collection_of(tool, name)
        if collection is not None:
            keys = self.keys.get(collection, [])
            values += keys[:4] + keys[-2:]
        values += self.known_values.get((tool, name), [])
        values += self.field_values.get(name, [])[:6]
        unique: list[Any] = []
        for value in values:
            if value not in unique:
                unique.append(value)
        return unique

    def sweep(self, seed: int, per_tool: int = 24) -> list[list[Call]]:
        """Single calls that vary one argument at a time over its domain, from known-good arguments.

        Random sequences rarely pick the one enum value or key that reaches a
        branch; the sweep reaches each of them from the seed state.
        """
        programs: list[list[Call]] = []
        for offset, tool in enumerate(sorted(self.tools)):
            bases = self.known_args.get(tool, [])[:2] or draw_many(self.arguments(tool), 1, seed + offset)
            properties = self.tools[tool].input_schema.get("properties", {})
            varied = [
                [
                    Call(tool, {**bases[0], name: value})
                    for value in self.domain(tool, name)
                    if bases[0].get(name, _UNSET) != value
                ]
                for name in sorted(properties)
            ]
            calls = [Call(tool, dict(base)) for base in bases]
            calls += [call for group in itertools.zip_longest(*varied) for call in group if call is not None]
            programs += [[call] for call in calls[:per_tool]]
        return programs

    # ------------------------------------------------------------------ resolving
    def resolve(self, arguments: Mapping[str, Any], changes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Replace `CreatedKey` placeholders by keys created so far (or seed keys when none were)."""
        resolved: dict[str, Any] = {}
        for name, value in arguments.items():
            if isinstance(value, CreatedKey):
                created = [k for k, r in changes.get(value.collection, {}).items() if r is not None]
                created = [k for k in created if k not in self.spec.seed.get(value.collection, {})] or created
                native = [self.argument(value.collection, k) for k in created]
                pool = native or self.keys.get(value.collection) or ["missing"]
                value = pool[value.index % len(pool)]
            resolved[name] = copy.deepcopy(value)
        return resolved

    def alternative(self, tool: str, name: str, value: Any, rng: random.Random) -> Any:
        """A different, plausible value for one argument (to perturb a task's solution)."""
        schema = self.tools[tool].input_schema
        node = schema.get("properties", {}).get(name, {})
        collection = self._collection_of(tool, name)
        candidates: Sequence[Any] = []
        if collection is not None:
            candidates = self.keys.get(collection, [])
        elif "enum" in node:
            candidates = list(node["enum"])
        elif isinstance(value, bool):
            return not value
        elif isinstance(value, int):
            return value + 1
        elif isinstance(value, float):
            return value + 1.5
        elif isinstance(value, list):
            return value[:-1] if value else [*self.field_values.get(name, ["x"])[:1]]
        else:
            candidates = [*self.known_values.get((tool, name), []), *self.field_values.get(name, [])]
        others = [c for c in candidates if c != value and type(c) is type(value)]
        if others:
            return rng.choice(others)
        if isinstance(value, str):
            return value + "-changed"
        return None
