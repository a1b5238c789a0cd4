"""Refusal tasks: a valid chain perturbed into a request the policy refuses, judged by the reason stated.

From a chain whose user asks for a write, one argument of that write is
changed so that the request breaks a rule, and the task becomes: the user asks
for it, and the right outcome is no change and the specific reason.

- *another user's record*: a record of the same collection that belongs to
  someone else (the user quotes its id). The environment may even allow the
  call, which is what makes the task worth having: only the policy forbids it.
  The reason is the ownership ("that booking belongs to another guest"); the
  other user's name, email and the record's details are facts the answer must
  never state.
- *a domain rule*: another of the user's own records, a larger amount, an
  earlier or much later date, another choice, such that the environment refuses
  the call with a domain error (a non-refundable booking, a frozen account, a
  passed deadline, a daily limit). The reason is read from the error: the
  values its message template was filled with (the deadline, the balance, the
  status), the numbers its text states (a $5,000.00 limit) and the words of
  its code found in its text ("non-refundable", "expired"), leaving out ids and
  what the user said themselves. Errors about malformed or unknown input are
  not refusals and are never used.

The reference solution identifies the user, looks up what the request names
and, for a domain rule, makes the refused call (the environment's answer is
where the reason comes from); it never reads another user's records.
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from mcpfactory.synth._chains import Chain, ChainSampler, Step, _Draft
from mcpfactory.synth._values import StateView, label, leaves
from mcpfactory.synth.graph import Param

__all__ = ["Refusal", "make_refusal", "reason_fact"]

State = Mapping[str, Mapping[str, Any]]
_TRIES = 10
_NOT_REFUSALS = re.compile(
    r"(^|_)not_found$|^invalid_|^unknown_|^empty_|^duplicate_|^same_|^too_(long|short)$|^out_of_range$"
    r"|^no_change$|^nothing_to_|^returned_error$"
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?$")
_NUMBER = re.compile(r"^[-+]?\$?\d[\d,]*(\.\d+)?%?$")
_LITERAL_NUMBER = re.compile(r"(?<![\w.{])\$?(\d[\d,]*(?:\.\d+)?)(?![\w}])")
_STOP = {"not", "already", "only", "too", "many", "much", "the", "and", "for", "with", "same", "found", "new", "date"}
_NEGATIONS = {"non", "not", "no", "un"}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refusal task's makings: the solution's steps, the refused request, and why it is refused."""

    chain: Chain
    request: Step
    kind: Literal["other_owner", "domain"]
    reason: Any  # a fact (JSON), the specific reason the answer must state
    code: str | None = None
    owner: str | None = None  # the other user, for `other_owner`
    record: tuple[str, str] | None = None  # the other user's record the request names


def refusable(code: str | None) -> bool:
    """Whether a domain error is a rule the policy refuses by (not malformed or unknown input)."""
    return bool(code) and not _NOT_REFUSALS.search(str(code))


def _looks_like_id(text: str) -> bool:
    return (
        " " not in text
        and len(text) <= 40
        and any(c.isdigit() for c in text)
        and any(c.isalpha() for c in text)
        and not _DATE.match(text)
    )


def _number(text: str) -> int | float | None:
    try:
        value = Decimal(text.replace("$", "").replace(",", "").rstrip("%"))
    except InvalidOperation:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _typed(text: str) -> Any:
    """A filled-in value as a fact: a date, a number, or short text."""
    if _DATE.match(text):
        return {"date": text[:10]}
    if _NUMBER.match(text):
        number = _number(text)
        return {"number": number} if number is not None else None
    if 3 <= len(text) <= 40 and not _looks_like_id(text):
        return {"text": text}
    return None


def _canonical_stated(values: Sequence[Any]) -> set[str]:
    out: set[str] = set()
    for value in values:
        for leaf in leaves(value):
            if isinstance(leaf, bool) or leaf is None:
                continue
            if isinstance(leaf, int | float):
                out.add(f"n:{Decimal(str(leaf)).normalize()}")
            elif isinstance(leaf, str):
                out.add(leaf.strip().lower())
                number = _number(leaf) if _NUMBER.match(leaf.strip()) else None
                if number is not None:
                    out.add(f"n:{Decimal(str(number)).normalize()}")
                if _DATE.match(leaf):
                    out.add(leaf[:10])
    return out


def _stated(fact: Mapping[str, Any], stated: set[str]) -> bool:
    if "number" in fact:
        return f"n:{Decimal(str(fact['number'])).normalize()}" in stated
    if "date" in fact:
        return str(fact["date"]) in stated
    return str(fact.get("text", "")).lower() in stated


def _match(template: str, message: str) -> dict[str, str] | None:
    """The values a message's template was filled with, or None if the message is not that template's."""
    parts = _PLACEHOLDER.split(template)
    pattern, names = "", []
    for index, part in enumerate(parts):
        if index % 2:
            if part in names:
                pattern += f"(?P={part})"
            else:
                names.append(part)
                pattern += f"(?P<{part}>.+?)"
        else:
            pattern += re.escape(part)
    found = re.fullmatch(pattern, message.strip(), flags=re.DOTALL)
    return found.groupdict() if found else None


def _whole(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, flags=re.IGNORECASE) is not None


def reason_fact(
    template: str | None,
    message: str,
    code: str,
    *,
    stated: Sequence[Any] = (),
    ids: set[str] = frozenset(),  # type: ignore[assignment]
    record_values: Sequence[Any] = (),
    nouns: Sequence[str] = (),
) -> Any:
    """The fact a refusal's answer must state, read from the environment's error, or None if none can be.

    `stated`: what the user said (never a reason); `ids`: internal ids (never
    a reason); `record_values`: values of the records the request names (a
    word of the code that is one of them, like `savings`, describes rather
    than explains); `nouns`: collection names.
    """
    said = _canonical_stated(stated)
    facts: list[Any] = []

    def add(fact: Any) -> None:
        if fact is not None and not _stated(fact, said) and fact not in facts:
            facts.append(fact)

    if template:
        filled = _match(template, message) or {}
        for value in filled.values():
            text = value.strip().strip("'\"")
            if text and text not in ids and not _looks_like_id(text):
                add(_typed(text))
        literal = _PLACEHOLDER.sub(" ", template)
    else:
        literal = message
        for token in re.findall(r"\d{4}-\d{2}-\d{2}(?:T[\d:]+)?", message):
            add({"date": token[:10]})
    if template:
        for token in _LITERAL_NUMBER.findall(literal):
            add(_typed(token))
    # 0 and 1 are in too many sentences ("1 night", "a single room") to show that a reason was given.
    facts[:] = [f for f in facts if not ("number" in f and f["number"] in (0, 1))]
    words = [w for w in code.lower().split("_") if w]
    variants = ["-".join(words), " ".join(words), "".join(words)] if len(words) > 1 else []
    if variants and any(_whole(v, literal) for v in variants):
        for variant in variants:
            add({"text": variant})
    # The code's last word names the state that blocks the request (`card_expired`, `account_frozen`),
    # unless the code is a negation (`non_refundable`: "refundable" alone says the opposite).
    described = {str(v).lower() for v in record_values if isinstance(v, str)}
    skip = _STOP | {n.lower() for n in nouns} | described
    last = words[-1] if words else ""
    if len(last) >= 4 and last not in skip and words[0] not in _NEGATIONS and _whole(last, literal):
        add({"text": last})
    if not facts:
        return None
    return facts[0] if len(facts) == 1 else {"any": facts}


def ownership_fact(noun: str) -> Any:
    """What an answer says when the record is someone else's: any of the ways to put it."""
    phrases = [
        f"another {noun}",
        f"another {noun}'s",
        f"different {noun}",
        f"other {noun}",
        "someone else",
        "someone else's",
        "not yours",
        "isn't yours",
        "not your",
        "not on your",
        "not in your",
        "not under your",
        "not associated with your",
        "not linked to your",
        "does not belong to you",
        "doesn't belong to you",
        "not belong to you",
        "belongs to another",
    ]
    return {"any": [{"text": p} for p in phrases]}


def _alternatives(
    param: Param, value: Any, sampler: ChainSampler, rng: random.Random, view: StateView, principal: str | None
) -> list[Any]:
    """Other values of one argument that stay within the user's world: their records, amounts, dates, choices."""
    out: list[Any] = []
    values = sampler.values
    if param.ref:
        if param.ref == sampler.world.principal:
            return []
        keys = [k for k in view.keys(param.ref) if k != value and sampler.world.allowed(view, principal, param.ref, k)]
        return rng.sample(keys, k=min(4, len(keys)))
    if param.enum and param.kind != "array":
        others = [v for v in param.enum if v != value]
        return rng.sample(others, k=min(2, len(others)))
    if param.kind == "boolean" and isinstance(value, bool):
        return [not value]
    if param.kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return [value + rng.randint(2, 6), value * 10]
    if param.kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return [round(value * 10, 2), round(value * 100, 2)]
    today = values.today
    if param.kind == "string" and today is not None and values.is_date(param):
        out = [
            (today - datetime.timedelta(days=rng.randint(1, 20))).isoformat(),
            (today + datetime.timedelta(days=rng.randint(370, 400))).isoformat(),
        ]
    elif param.kind == "string" and today is not None and values.is_month(param):
        back = today.month - 1 - rng.randint(1, 18)
        out = [f"{today.year + back // 12}-{back % 12 + 1:02d}"]
    return out


async def make_refusal(
    sampler: ChainSampler,
    chain: Chain,
    rng: random.Random,
    templates: Mapping[str, Mapping[str, str]],
) -> Refusal | None:
    """Perturb the chain's first write goal into a request the policy refuses, or None if none is found."""
    identity = [s for s in chain.steps if s.role == "identity"]
    first = next((i for i, s in enumerate(chain.steps) if s.role == "goal" and not s.read_only), None)
    if first is None:
        return None
    goal = chain.steps[first]
    if any(s.role == "goal" and not s.read_only for s in chain.steps[:first]):
        return None
    lookups = [s for s in chain.steps[:first] if s.role == "lookup"]
    world = sampler.world
    view = StateView(sampler.seed, goal.before)
    params = {p.name: p for p in sampler.graph.params[goal.tool]}
    trials: list[tuple[Literal["other_owner", "domain"], str, Any]] = []
    if world.principal is not None and chain.principal is not None:
        for name in goal.arguments:
            param = params.get(name)
            if param is None or not param.ref or param.ref == world.principal or not world.owned(param.ref):
                continue
            theirs = [
                k
                for k in view.keys(param.ref)
                if world.owners(view, param.ref, k) and chain.principal not in world.owners(view, param.ref, k)
            ]
            for key in rng.sample(theirs, k=min(2, len(theirs))):
                trials.append(("other_owner", name, key))
    for name, value in goal.arguments.items():
        param = params.get(name)
        if param is not None:
            trials += [
                ("domain", name, other) for other in _alternatives(param, value, sampler, rng, view, chain.principal)
            ]
    rng.shuffle(trials)
    # Half the time the environment's own rules come first: someone else's record is always at hand.
    first_kind = "domain" if rng.random() < 0.5 else "other_owner"
    trials.sort(key=lambda trial: trial[0] != first_kind)
    for kind, name, replacement in trials[:_TRIES]:
        arguments = {**goal.arguments, name: replacement}
        await sampler.scratch.reset({"patch": goal.before} if goal.before else None)
        sampler.calls += 1
        result = await sampler.scratch.call(goal.tool, arguments)
        if result.fault:
            continue
        if kind == "domain" and (result.ok or not refusable(result.code)):
            continue
        request = Step(goal.tool, arguments, None, result.text, "goal", False, goal.before)
        made = await _refusal(sampler, chain, identity, lookups, request, kind, name, replacement, result, templates)
        if made is not None:
            return made
    return None


async def _refusal(
    sampler: ChainSampler,
    chain: Chain,
    identity: list[Step],
    lookups: list[Step],
    request: Step,
    kind: Literal["other_owner", "domain"],
    name: str,
    replacement: Any,
    result: Any,
    templates: Mapping[str, Mapping[str, str]],
) -> Refusal | None:
    world = sampler.world
    view = StateView(sampler.seed, request.before)
    draft = _Draft(principal=chain.principal, identity=chain.identity, changes=dict(request.before))
    for step in identity:
        draft.revealed.update(leaves(step.value))
        draft.steps.append(step)
    if world.key_known and chain.principal is not None:
        draft.revealed.add(chain.principal)
    sampler._mark_generated(draft)
    arguments = dict(request.arguments)
    if kind == "other_owner":
        # The user quotes the other record's id; the rest of the request is looked up as usual.
        arguments.pop(name)
    named = sampler.named_records(request.tool, arguments, view)
    # The valid request's lookups still stand (a room found for the dates the user first had in mind).
    steps = list(lookups)
    for step in steps:
        draft.revealed.update(leaves(step.value))
    found = await sampler.reveal_ids(
        random.Random(f"{request.tool}:{replacement}"), request.tool, arguments, named, view, draft
    )
    if found is None:
        return None
    steps += found
    for step in found:
        draft.revealed.update(leaves(step.value))
    solution = [*identity, *steps]
    if kind == "other_owner":
        collection = str(sampler.ref_of(request.tool, name))
        owners = world.owners(view, collection, replacement)
        owner = sorted(owners)[0] if owners else None
        reason = ownership_fact(world.noun())
        record = (collection, str(replacement))
        return Refusal(
            Chain(tuple(solution), dict(request.before), chain.principal, chain.identity),
            request,
            kind,
            reason,
            result.code,
            owner,
            record,
        )
    template = (templates.get(request.tool) or {}).get(str(result.code))
    stated = [v for k, v in request.arguments.items()] + [v for _, v in chain.identity]
    stated += [v for s in steps for v in s.arguments.values()]
    named_values = [
        v for c, k in sampler.named_records(request.tool, request.arguments, view) for v in leaves(view.get(c, k))
    ]
    nouns = [c for c in sampler.seed] + [c.rstrip("s") for c in sampler.seed]
    reason = reason_fact(
        template,
        result.text,
        str(result.code),
        stated=stated,
        ids=sampler.seed_ids,
        record_values=named_values,
        nouns=nouns,
    )
    if reason is None:
        return None
    solution.append(request)
    return Refusal(
        Chain(tuple(solution), dict(request.before), chain.principal, chain.identity),
        request,
        kind,
        reason,
        result.code,
    )


def other_owner_never(
    sampler: ChainSampler, refusal: Refusal, shown: Sequence[Any], stated: Sequence[Any]
) -> list[Any]:
    """What the answer must never say about the other user: their name and details, and their record's."""
    if refusal.record is None or refusal.owner is None or sampler.world.principal is None:
        return []
    view = StateView(sampler.seed, refusal.request.before)
    owner = view.get(sampler.world.principal, refusal.owner)
    record = view.get(*refusal.record)
    avoid = {str(v).lower() for v in [*shown, *stated] if isinstance(v, str | int | float)}
    out: list[Any] = []
    name = label(owner)
    if name and name.lower() not in avoid:
        out.append({"text": name})
    for source in (owner, record):
        if not isinstance(source, Mapping):
            continue
        for field_name, value in source.items():
            if len(out) >= 4:
                break
            if not isinstance(value, str) or value.lower() in avoid or value == refusal.record[1]:
                continue
            if "email" in field_name or _DATE.match(value):
                fact = {"date": value[:10]} if _DATE.match(value) else {"text": value}
                if fact not in out and value[:10].lower() not in avoid:
                    out.append(fact)
    return out
