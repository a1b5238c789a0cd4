"""Write a task's instruction: what a user would ask, stating facts they know rather than internal ids.

The *brief* of a task lists, per goal, the action and its details in a
user's terms: a record named by an id is described by its label (a name,
title or email) when it has one, and the id is then *hidden*: the agent must
look it up (EnvFactory's implicit queries). A record without a label is
named by its id, as a user would quote a confirmation number. The facts the
chain's lookups started from (an email, a name and zip code) are stated too.

Without a model the brief becomes a template sentence; with one, the model
rewrites it in natural language, and the result is checked: it must not leak
a hidden id or the answer the task expects, or the template is used instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcpfactory.synth._chains import Chain, Step
from mcpfactory.synth._errors import OutputError
from mcpfactory.synth._prompts import render
from mcpfactory.synth._values import StateView, label, leaves
from mcpfactory.synth.graph import ToolGraph
from mcpfactory.synth.model import Model

__all__ = ["Brief", "brief_for", "model_instruction", "template_instruction"]

log = logging.getLogger("mcpfactory.synth.tasks")

_SCHEMA = {
    "type": "object",
    "properties": {"instruction": {"type": "string", "minLength": 10, "maxLength": 1500}},
    "required": ["instruction"],
}


@dataclass
class Brief:
    """What the instruction must convey, in the user's terms."""

    goals: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (action, [(detail, value)])
    facts: list[tuple[str, str]] = field(default_factory=list)  # (what, value) the user knows
    hidden: list[str] = field(default_factory=list)  # ids the agent must look up
    ask: list[str] = field(default_factory=list)  # what the user wants to be told
    outputs: list[str] = field(default_factory=list)  # strings the answer must contain


def humanize(name: str) -> str:
    return name.replace("_", " ").strip()


def _singular(collection: str) -> str:
    name = humanize(collection)
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value) or "none"
    return json.dumps(value, ensure_ascii=False)


def _unique_label(view: StateView, collection: str, key: str) -> str | None:
    text = label(view.get(collection, key))
    if text is None:
        return None
    same = [k for k in view.keys(collection) if label(view.get(collection, k)) == text]
    return text if same == [key] else None


def brief_for(
    chain: Chain,
    graph: ToolGraph,
    seed: Mapping[str, Mapping[str, Any]],
    outputs: Sequence[str],
    ask: Sequence[str],
    ignored: Mapping[str, Sequence[str]],
) -> Brief:
    """The brief of a chain (see the module docstring)."""
    final = StateView(seed, chain.changes)
    start = StateView(seed, {})
    brief = Brief(outputs=list(outputs), ask=list(ask))
    revealed: set[Any] = set()
    for step in chain.steps:
        if step.role != "goal":
            revealed.update(leaf for leaf in leaves(step.value) if isinstance(leaf, str))
            continue
        details: list[tuple[str, str]] = []
        params = {p.name: p for p in graph.params[step.tool]}
        for name, value in step.arguments.items():
            param = params.get(name)
            if name in ignored.get(step.tool, ()) or (param and param.has_default and param.default == value):
                continue
            details.append(_describe(name, value, param.ref if param else None, final, start, revealed, brief))
        brief.goals.append((humanize(step.tool), details))
        revealed.update(leaf for leaf in leaves(step.value) if isinstance(leaf, str))
    stated = {value for _, details in brief.goals for _, value in details}
    for step in chain.steps:
        if step.role != "lookup":
            continue
        params = {p.name: p for p in graph.params[step.tool]}
        for name, value in step.arguments.items():
            param = params.get(name)
            # Filters (an enum, a flag) and ids are how the agent searches, not what the user knows.
            if param is None or param.is_id or param.enum or param.kind == "boolean":
                continue
            fact = (humanize(name), _show(value))
            if fact not in brief.facts and not any(fact[1] in text for text in stated):
                brief.facts.append(fact)
    return brief


def _describe(
    name: str,
    value: Any,
    ref: str | None,
    final: StateView,
    start: StateView,
    revealed: set[Any],
    brief: Brief,
) -> tuple[str, str]:
    """One argument in the user's terms; an id the chain revealed is described, not stated, and hidden."""
    items = value if isinstance(value, list) else [value]
    shown: list[str] = []
    named = humanize(name)
    for item in items:
        collection = ref if ref and isinstance(item, str) else final.collection_of(item) or start.collection_of(item)
        if collection is None or not isinstance(item, str):
            shown.append(_show(item))
            continue
        view = start if start.contains(collection, item) else final
        named = _singular(collection)
        description = describe_record(view, collection, item)
        if item in revealed and description is not None:
            shown.append(description)
            if item not in brief.hidden:
                brief.hidden.append(item)
        elif description is not None and description.startswith("“"):
            shown.append(f"{description} ({item})")
        else:
            shown.append(item)
    return named, ", ".join(shown)


def describe_record(view: StateView, collection: str, key: str) -> str | None:
    """Name a record without its id: its label if unique, else up to three fields that single it out."""
    text = _unique_label(view, collection, key)
    if text is not None:
        return f"“{text}”"
    record = view.get(collection, key)
    if not isinstance(record, Mapping):
        return None
    others = [view.get(collection, k) for k in view.keys(collection) if k != key]
    candidates = []
    for name, value in record.items():
        if name == "id" or name.endswith("_id") or value == key:
            continue
        shown = _field_text(value, view)
        if shown is not None:
            candidates.append((0 if _looks_like_date(shown) else 1, name, shown))
    candidates.sort(key=lambda c: c[0])
    chosen: list[tuple[str, str]] = []
    for _, name, shown in candidates:
        chosen.append((name, shown))
        names = [n for n, _ in chosen]
        if not any(all(_field_text((o or {}).get(n), view) == s for n, s in chosen) for o in others if o):
            return "the one with " + " and ".join(f"{humanize(n)} {s}" for n, s in chosen)
        if len(names) >= 3:
            break
    return None


def _field_text(value: Any, view: StateView) -> str | None:
    """A field's value as a user would say it: scalars, and lists of labelled records as their labels."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        return _show(value)
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        names = [label(v) for v in value]
        if all(names):
            return ", ".join(str(n) for n in names)
    return None


def _looks_like_date(text: str) -> bool:
    return len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit()


def template_instruction(brief: Brief) -> str:
    """The brief as plain sentences, no model needed."""
    parts = []
    if brief.facts:
        parts.append("For reference: " + "; ".join(f"{what}: {value}" for what, value in brief.facts) + ".")
    for index, (action, details) in enumerate(brief.goals):
        lead = "Please" if index == 0 else "Then"
        text = f"{lead} {action}"
        if details:
            text += " (" + "; ".join(f"{what}: {value}" for what, value in details) + ")"
        parts.append(text + ".")
    if brief.ask:
        parts.append("Tell me the " + " and the ".join(brief.ask) + ".")
    return " ".join(parts)


def check_instruction(text: str, brief: Brief) -> list[str]:
    """Why an instruction does not fit its brief (empty when it does)."""
    problems = []
    for hidden in brief.hidden:
        if hidden in text:
            problems.append(f"it states the internal id {hidden!r}, which the agent must look up instead")
    for output in brief.outputs:
        if output.lower() in text.lower():
            problems.append(f"it gives away the answer {output!r}")
    return problems


async def model_instruction(
    model: Model, brief: Brief, chain: Chain, env_description: str, policy: str
) -> tuple[str, list[dict[str, Any]]]:
    """Ask the model to phrase the brief; return the instruction and the transcript of the exchange.

    Raise `OutputError` when the model's instruction still leaks a hidden id
    or the answer after one round of feedback.
    """
    calls = "\n".join(_call_line(step) for step in chain.steps)
    prompt = render(
        "task_instruction",
        env_description=env_description.strip(),
        policy=policy.strip() or "(none)",
        calls=calls,
        goals=json.dumps([{"action": a, "details": dict(d)} for a, d in brief.goals], ensure_ascii=False, indent=1),
        facts=json.dumps(dict(brief.facts), ensure_ascii=False) if brief.facts else "(none)",
        hidden=", ".join(brief.hidden) or "(none)",
        ask=", ".join(brief.ask) or "(nothing: the user wants the change made)",
        template=template_instruction(brief),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    transcript: list[dict[str, Any]] = []
    problems: list[str] = []
    for _ in range(2):
        reply = await model.json(messages, _SCHEMA, name="task_instruction")
        transcript.extend(reply.transcript)
        text = str(reply.data["instruction"]).strip()
        problems = check_instruction(text, brief)
        if not problems:
            return text, transcript
        messages = [
            *messages,
            {"role": "assistant", "content": reply.text},
            {"role": "user", "content": render("task_instruction_retry", problems="; ".join(problems))},
        ]
    raise OutputError("the model's instruction does not fit the task", text=text, problems=problems)


def _call_line(step: Step) -> str:
    arguments = json.dumps(step.arguments, ensure_ascii=False)
    result = step.text if len(step.text) <= 400 else step.text[:399] + "…"
    return f"- {step.role} {step.tool}({arguments}) -> {result}"
