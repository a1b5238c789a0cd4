"""A random policy: schema-valid calls to random tools, then a final answer; the floor any agent should beat."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from harness.conversation import AssistantTurn, ToolCall
from harness.policies.base import PolicyView
from harness.schema import ArgumentChecker, resolve_ref

__all__ = ["RandomPolicy", "random_arguments"]

_MAX_DEPTH = 4


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if 0 < len(value) <= 64:
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 8)))


def _value(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, pool: Sequence[str], depth: int
) -> Any:
    schema = resolve_ref(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            # Prefer a non-null branch: a null argument rarely does anything.
            concrete = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
            choice = rng.choice(concrete) if concrete and rng.random() < 0.8 else rng.choice(options)
            return _value(choice, root, rng, pool, depth)
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        return _value(schema["allOf"][0], root, rng, pool, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = rng.choice(kind) if kind else None
    if kind is None:
        kind = "object" if "properties" in schema else rng.choice(["string", "integer", "boolean"])
    if kind == "null":
        return None
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "integer":
        low = int(schema["minimum"]) if "minimum" in schema else int(schema.get("exclusiveMinimum", -1)) + 1
        high = int(schema["maximum"]) if "maximum" in schema else int(schema.get("exclusiveMaximum", low + 11)) - 1
        return rng.randint(low, max(low, high))
    if kind == "number":
        bottom = float(schema.get("minimum", 0.0))
        return round(rng.uniform(bottom, float(schema.get("maximum", bottom + 100.0))), 2)
    if kind == "string":
        if schema.get("format") == "date":
            return f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        text = rng.choice(pool) if pool and rng.random() < 0.75 else _word(rng)
        min_length = int(schema.get("minLength", 0))
        return text if len(text) >= min_length else text + "x" * (min_length - len(text))
    if kind == "array":
        if depth >= _MAX_DEPTH:
            return []
        items = schema.get("items", {})
        count = rng.randint(int(schema.get("minItems", 0)), max(int(schema.get("minItems", 0)), 2))
        return [_value(items if isinstance(items, Mapping) else {}, root, rng, pool, depth + 1) for _ in range(count)]
    return _object(schema, root, rng, pool, depth)


def _object(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, pool: Sequence[str], depth: int
) -> Any:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out: dict[str, Any] = {}
    if depth >= _MAX_DEPTH:
        properties = {name: prop for name, prop in properties.items() if name in required}
    for name, prop in properties.items():
        if name in required or rng.random() < 0.5:
            out[name] = _value(prop if isinstance(prop, Mapping) else {}, root, rng, pool, depth + 1)
    return out


def random_arguments(input_schema: Mapping[str, Any], rng: random.Random, pool: Sequence[str] = ()) -> dict[str, Any]:
    """Draw arguments for a tool from its input schema; strings come from `pool` (values seen so far) or are words."""
    value = _object(input_schema, input_schema, rng, pool, 0)
    return value if isinstance(value, dict) else {}


class RandomPolicy:
    """Make between 1 and `max_calls` schema-valid calls to random tools, then answer.

    Deterministic given the episode seed: the same seed makes the same calls.
    String arguments are mostly drawn from the strings seen in earlier results
    (ids, names) and in the instruction, so some calls do reach real records.
    """

    name = "random"
    model: str | None = None

    def __init__(self, max_calls: int = 4, answer: str = "I have done what I could.") -> None:
        self.max_calls = max(1, max_calls)
        self.answer = answer
        self._checkers: dict[str, ArgumentChecker] = {}

    async def act(self, view: PolicyView) -> AssistantTurn:
        episode_rng = random.Random(view.seed)
        planned = episode_rng.randint(1, self.max_calls)
        if view.turn >= planned or not view.tools:
            return AssistantTurn(content=self.answer, finish_reason="stop")
        rng = random.Random(f"{view.seed}:{view.turn}")
        pool = sorted({*_strings(view.task.opening.split()), *_strings([r.value for r in view.results])})
        tool = rng.choice(list(view.tools))
        checker = self._checkers.get(view.task.env)
        if checker is None:
            checker = self._checkers[view.task.env] = ArgumentChecker(list(view.tools))
        arguments: dict[str, Any] = {}
        for _ in range(5):  # the generator covers the schemas servers emit; retry the rare miss (a pattern)
            arguments = random_arguments(tool.input_schema, rng, pool)
            if checker.check(tool.name, arguments)[0] is None:
                break
        return AssistantTurn(tool_calls=(ToolCall.make(f"call_{view.turn}", tool.name, arguments),))
