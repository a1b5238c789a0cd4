"""Say what a task asks: the user's scenario (what the agent reads first) and a one-line summary for people.

The *brief* of a task lists who the user is and how they identify themselves
(their email, a name and date of birth), and per request the action and its
details in the user's terms. An internal id is never stated: a record is
described by its label (a name, title or email) or by up to three fields that
single it out among the user's own records ("the one with check in
2024-06-21"), a card inside a profile by its brand and last digits, and the
id is *hidden*: the agent must look it up. A request that names someone
else's record (a refusal task) quotes that record's id, as a user repeating a
confirmation number would.

From the brief come the `user_scenario` (`opening`, `goal`, `known`,
`unknown`, `persona`, `confirm`, `stop`) and the `instruction`, a summary for
people with the ids in it. Without a model the opening is a template; with
one, the model words it in the user's voice and the result is checked: an
opening that states a hidden id or the answer is sent back once, then
replaced by the template.
"""

from __future__ import annotations

import functools
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcpfactory.synth._chains import Step
from mcpfactory.synth._errors import OutputError
from mcpfactory.synth._prompts import render
from mcpfactory.synth._values import StateView, label
from mcpfactory.synth.graph import ToolGraph
from mcpfactory.synth.model import Model

__all__ = [
    "Brief",
    "brief_for",
    "check_opening",
    "humanize",
    "model_opening",
    "scenario_for",
    "show",
    "singular",
    "template_instruction",
    "template_opening",
]

log = logging.getLogger("mcpfactory.synth.tasks")

_SCHEMA = {
    "type": "object",
    "properties": {"opening": {"type": "string", "minLength": 10, "maxLength": 1500}},
    "required": ["opening"],
}
_PERSONAS = (
    "Polite and brief; answers questions in a few words.",
    "In a hurry; wants it sorted quickly.",
    "Friendly and chatty, but sticks to what they know.",
    "Careful; likes to hear what will happen before it happens.",
    "Matter-of-fact; gives details only when asked.",
    "A little unsure of the details; answers what they can.",
)
_ID_NAMES = ("id",)


@dataclass
class Brief:
    """What the task asks, in the user's terms and, for people, with its ids."""

    who: str | None = None  # the user's name, where the environment knows it
    principal: str | None = None
    identity: list[tuple[str, str]] = field(default_factory=list)  # (what, value) the user says to identify
    goals: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (action, [(detail, value)])
    facts: list[tuple[str, str]] = field(default_factory=list)  # (what, value) the user knows
    hidden: list[str] = field(default_factory=list)  # ids the agent must look up
    hidden_kinds: list[str] = field(default_factory=list)  # what each hidden id is ("booking id")
    ask: list[str] = field(default_factory=list)  # what the user wants to be told
    outputs: list[str] = field(default_factory=list)  # what the answer must state
    calls: list[str] = field(default_factory=list)  # the requests with their ids, for people
    refusal: str | None = None  # why the request is refused, for people


def humanize(name: str) -> str:
    return name.replace("_", " ").strip()


def singular(collection: str) -> str:
    name = humanize(collection)
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def show(value: Any) -> str:
    """A value as a user writes it."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(show(v) for v in value) or "none"
    return json.dumps(value, ensure_ascii=False)


class _Describer:
    """Names records and nested items without their ids, among the records the user could mean."""

    def __init__(
        self,
        view: StateView,
        pool: Callable[[str], list[str]],
        internal: Callable[[Any], bool],
        holders: Sequence[Any],
    ) -> None:
        self.view = view
        self.pool = pool
        self.internal = internal
        self.holders = holders

    def record(self, collection: str, key: str) -> str | None:
        """Its label if no other candidate shares it, else up to three fields that single it out."""
        record = self.view.get(collection, key)
        others = [self.view.get(collection, k) for k in self.pool(collection) if k != key]
        return self._among(record, [o for o in others if o is not None], key)

    def _among(self, record: Any, others: Sequence[Any], key: Any) -> str | None:
        if not isinstance(record, Mapping):
            return None
        text = label(record)
        if text is not None and all(label(o) != text for o in others):
            return f"“{text}”"
        candidates = []
        for name, value in record.items():
            if name in _ID_NAMES or name.endswith(("_id", "_ids")) or value == key:
                continue
            shown = self._field(value)
            if shown is not None:
                candidates.append((0 if _looks_like_date(shown) else 1, name, shown))
        candidates.sort(key=lambda c: c[0])
        chosen: list[tuple[str, str]] = []
        for _, name, shown in candidates:
            chosen.append((name, shown))
            if not any(all(self._field(o.get(n)) == s for n, s in chosen) for o in others if isinstance(o, Mapping)):
                return "the one with " + " and ".join(f"{humanize(n)} {s}" for n, s in chosen)
            if len(chosen) >= 3:
                break
        return None

    def nested(self, item: Any) -> str | None:
        """An item held inside a record (a card on a guest's profile), described among its siblings."""
        for holder in self.holders:
            found = _siblings(holder, item, 0)
            if found is not None:
                mine, others = found
                return self._among(mine, others, item)
        return None

    def _field(self, value: Any) -> str | None:
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, str | int | float):
            text = show(value)
            return None if self.internal(value) or len(text) > 60 else text
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            names = [label(v) for v in value]
            if all(names):
                return ", ".join(str(n) for n in names)
        return None


def _siblings(node: Any, item: Any, depth: int) -> tuple[Mapping[str, Any], list[Any]] | None:
    """The mapping that holds `item` under an id field (or is keyed by it), and the mappings beside it."""
    if depth > 5:
        return None
    if isinstance(node, Mapping):
        if item in node and isinstance(node[item], Mapping):
            return node[item], [v for k, v in node.items() if k != item and isinstance(v, Mapping)]
        for value in node.values():
            found = _siblings(value, item, depth + 1)
            if found is not None:
                return found
    elif isinstance(node, list):
        maps = [v for v in node if isinstance(v, Mapping)]
        for candidate in maps:
            if any((k in _ID_NAMES or str(k).endswith("_id")) and v == item for k, v in candidate.items()):
                return candidate, [m for m in maps if m is not candidate]
        for value in node:
            found = _siblings(value, item, depth + 1)
            if found is not None:
                return found
    return None


def _looks_like_date(text: str) -> bool:
    return len(text) >= 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit()


def brief_for(
    requests: Sequence[Step],
    lookups: Sequence[Step],
    graph: ToolGraph,
    view: StateView,
    *,
    principal: str | None,
    principal_collection: str | None,
    identity: Sequence[tuple[str, Any]],
    pool: Callable[[StateView, str], list[str]],
    internal: Callable[[str, str, Any], bool],
    outputs: Sequence[str] = (),
    ask: Sequence[str] = (),
    ignored: Mapping[str, Sequence[str]] | None = None,
    quoted: Sequence[Any] = (),
    who: str | None = None,
) -> Brief | None:
    """The brief of a task, or None when a record it needs cannot be told apart without its id.

    `requests` are what the user asks for (the goals, or the refused call),
    `lookups` the reads whose non-id arguments are facts the user knows,
    `view` the state the first request was made in, `pool(state, collection)`
    the keys the user could mean in a state, `internal(tool, param, value)`
    whether an argument is an internal id, `quoted` ids the user states as
    they are. Each request's records are described in the state just before
    it (a card added by an earlier request is one more card to tell apart).
    """
    ignored = ignored or {}
    brief = Brief(outputs=list(outputs), ask=list(ask), principal=principal, who=who)
    if who is None and principal is not None and principal_collection is not None:
        brief.who = label(view.get(principal_collection, principal))
    brief.identity = [(humanize(name), show(value)) for name, value in identity]
    for step in requests:
        here = StateView(view.seed, step.before) if step.before else view
        holders: list[Any] = []
        if principal is not None and principal_collection is not None:
            holders.append(here.get(principal_collection, principal))
        params = {p.name: p for p in graph.params[step.tool]}
        named = [
            here.get(p.ref, v)
            for n, v in step.arguments.items()
            if (p := params.get(n)) and p.ref and isinstance(v, str)
        ]
        describer = _Describer(
            here,
            functools.partial(pool, here),
            lambda v: internal("", "", v),
            [*holders, *[r for r in named if r]],
        )
        details: list[tuple[str, str]] = []
        for name, value in step.arguments.items():
            param = params.get(name)
            if name in ignored.get(step.tool, ()) or (param and param.has_default and param.default == value):
                continue
            shown: list[str] = []
            what = humanize(name)
            for item in value if isinstance(value, list) else [value]:
                if not internal(step.tool, name, item) and not (param and param.ref and item == principal):
                    shown.append(show(item))
                    continue
                collection = (param.ref if param and param.ref else None) or here.collection_of(item)
                kind = f"{singular(collection)} id" if collection else f"{humanize(name)}"
                if item in quoted:
                    shown.append(f"{singular(collection) if collection else what} {item}")
                    continue
                if item not in brief.hidden:
                    brief.hidden.append(str(item))
                    brief.hidden_kinds.append(kind)
                if item == principal:
                    continue  # the user themselves
                if collection is not None and here.contains(collection, item):
                    what = singular(collection)
                    text = describer.record(collection, str(item))
                else:
                    text = describer.nested(item)
                if text is None:
                    return None
                shown.append(text)
            if shown:
                details.append((what, ", ".join(shown)))
        brief.goals.append((humanize(step.tool), details))
        arguments = ", ".join(f"{k}={show(v)}" for k, v in step.arguments.items())
        brief.calls.append(f"{step.tool}({arguments})")
    stated = {value for _, details in brief.goals for _, value in details} | {v for _, v in brief.identity}
    for step in lookups:
        params = {p.name: p for p in graph.params[step.tool]}
        for name, value in step.arguments.items():
            param = params.get(name)
            # Filters (an enum, a flag) and ids are how the agent searches, not what the user knows.
            if (
                param is None
                or param.is_id
                or param.enum
                or param.kind == "boolean"
                or internal(step.tool, name, value)
            ):
                continue
            fact = (humanize(name), show(value))
            asked = {what for _, details in brief.goals for what, _ in details}
            # A detail of the request itself wins over what a lookup was first made with.
            if fact[0] in asked or name in {n for step in requests for n in step.arguments}:
                continue
            if fact not in brief.facts and not any(fact[1] in text for text in stated):
                brief.facts.append(fact)
    return brief


def _request(action: str, details: Sequence[tuple[str, str]]) -> str:
    text = action
    if details:
        text += " (" + "; ".join(f"{what}: {value}" for what, value in details) + ")"
    return text


def template_opening(brief: Brief) -> str:
    """The user's first message, as a template: who they are, then what they want."""
    parts = [f"Hi, this is {brief.who}." if brief.who else "Hi."]
    if brief.identity:
        parts.append("My " + ", and my ".join(f"{what} is {value}" for what, value in brief.identity) + ".")
    if brief.facts:
        parts.append("For reference: " + "; ".join(f"{what}: {value}" for what, value in brief.facts) + ".")
    for index, (action, details) in enumerate(brief.goals):
        lead = "I'd like to" if index == 0 else "Then I'd like to"
        parts.append(f"{lead} {_request(action, details)}.")
    if brief.ask:
        parts.append("Could you tell me the " + " and the ".join(brief.ask) + "?")
    return " ".join(parts)


def template_instruction(brief: Brief) -> str:
    """A one-line summary for people: who asks for what (ids included), and the right outcome."""
    who = f"{brief.who} ({brief.principal})" if brief.who and brief.principal else brief.who or brief.principal
    text = f"{who or 'The user'} asks for " + "; then ".join(brief.calls)
    if brief.refusal:
        text += f"; it must be refused: {brief.refusal}"
    elif brief.outputs:
        text += "; the answer states " + ", ".join(brief.outputs)
    return text + "."


def scenario_for(brief: Brief, opening: str, rng: random.Random) -> dict[str, Any]:
    """The user scenario of a task (docs/tasks.md) from its brief and opening."""
    known = [f"My {what} is {value}." for what, value in brief.identity]
    known += [f"The {what} is {value}." for what, value in brief.facts]
    for action, details in brief.goals:
        known += [f"For the {action}, the {what} is {value}." for what, value in details]
    unknown = list(dict.fromkeys(f"the {kind}" for kind in brief.hidden_kinds))
    unknown += [f"the {item}" for item in brief.ask]
    actions = " and ".join(action for action, _ in brief.goals)
    if brief.refusal:
        goal = f"Get this done: {actions}."
        stop = "When it is done, or the agent explains why it cannot be done."
        unknown.append("whether the request is allowed")
    elif brief.ask:
        goal = "Find out the " + " and the ".join(brief.ask) + "."
        stop = "When the agent tells them the " + " and the ".join(brief.ask) + "."
    else:
        goal = f"Get this done: {actions}."
        stop = "When the agent says it is done."
    return {
        "opening": opening,
        "goal": goal,
        "known": known,
        "unknown": unknown,
        "persona": rng.choice(_PERSONAS),
        "confirm": "yes",
        "stop": stop,
    }


def check_opening(text: str, brief: Brief) -> list[str]:
    """Why an opening does not fit its brief (empty when it does)."""
    problems = []
    for hidden in brief.hidden:
        if hidden in text:
            problems.append(f"it states the internal id {hidden!r}, which the agent must look up instead")
    for output in brief.outputs:
        if output.lower() in text.lower():
            problems.append(f"it gives away the answer {output!r}")
    return problems


async def model_opening(
    model: Model, brief: Brief, steps: Sequence[Step], env_description: str, policy: str
) -> tuple[str, list[dict[str, Any]]]:
    """Ask the model to word the user's opening; return it and the transcript of the exchange.

    Raise `OutputError` when the opening still leaks a hidden id or the
    answer after one round of feedback.
    """
    calls = "\n".join(_call_line(step) for step in steps)
    prompt = render(
        "task_instruction",
        env_description=env_description.strip(),
        policy=policy.strip() or "(none)",
        calls=calls,
        who=brief.who or "(not known)",
        identity=json.dumps(dict(brief.identity), ensure_ascii=False) if brief.identity else "(none)",
        goals=json.dumps([{"action": a, "details": dict(d)} for a, d in brief.goals], ensure_ascii=False, indent=1),
        facts=json.dumps(dict(brief.facts), ensure_ascii=False) if brief.facts else "(none)",
        hidden=", ".join(brief.hidden) or "(none)",
        ask=", ".join(brief.ask) or "(nothing: the user wants the change made)",
        template=template_opening(brief),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    transcript: list[dict[str, Any]] = []
    problems: list[str] = []
    text = ""
    for _ in range(2):
        reply = await model.json(messages, _SCHEMA, name="task_opening")
        transcript.extend(reply.transcript)
        text = str(reply.data["opening"]).strip()
        problems = check_opening(text, brief)
        if not problems:
            return text, transcript
        messages = [
            *messages,
            {"role": "assistant", "content": reply.text},
            {"role": "user", "content": render("task_instruction_retry", problems="; ".join(problems))},
        ]
    raise OutputError("the model's opening does not fit the task", text=text, problems=problems)


def _call_line(step: Step) -> str:
    arguments = json.dumps(step.arguments, ensure_ascii=False)
    result = step.text if len(step.text) <= 400 else step.text[:399] + "…"
    return f"- {step.role} {step.tool}({arguments}) -> {result}"
