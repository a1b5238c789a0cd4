"""Who owns what in hotel and bank, written by hand, and a check that a task acts only for its user.

Ownership is read from the state with rules written here (a booking is its
`guest_id`'s, a statement its account's owner's), not from the synthesiser's
own idea of ownership, so the two can disagree. Used by the policy tests and
by `benchmarks/synth_policy.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcpfactory.synth._session import import_server, open_session
from tests.conftest import CATALOG

__all__ = ["RULES", "Rules", "problems"]

State = Mapping[str, Mapping[str, Any]]
Owner = Callable[[Mapping[str, Any], State], str | None]


@dataclass(frozen=True)
class Rules:
    """Who owns what in one environment, and how a user says who they are."""

    principal: str
    key: str
    identity: frozenset[str]
    register: frozenset[str]
    owners: Mapping[str, Owner]

    def owner(self, collection: str, key: str, state: State) -> str | None:
        """The user a record belongs to, or None for a public record (a hotel, a room)."""
        record = state[collection][key]
        rule = self.owners.get(collection)
        return rule(record, state) if rule else None

    def nested_ids(self, record: Mapping[str, Any]) -> set[str]:
        """Ids held inside a user's own record (the cards on a guest's profile)."""
        return {m["method_id"] for m in record.get("payment_methods") or ()}


def _field(name: str) -> Owner:
    return lambda record, state: record[name]


RULES = {
    "hotel": Rules(
        principal="guests",
        key="guest_id",
        identity=frozenset({"find_guest"}),
        register=frozenset({"register_guest"}),
        owners={"guests": _field("guest_id"), "bookings": _field("guest_id"), "payments": _field("guest_id")},
    ),
    "bank": Rules(
        principal="customers",
        key="customer_id",
        identity=frozenset({"find_customer"}),
        register=frozenset(),
        owners={
            "customers": _field("customer_id"),
            "accounts": _field("customer_id"),
            "cards": _field("customer_id"),
            "payees": _field("customer_id"),
            "transfers": _field("customer_id"),
            "statements": lambda record, state: state["accounts"][record["account_id"]]["customer_id"],
        },
    ),
}


def _merged(seed: State, changes: State) -> dict[str, dict[str, Any]]:
    state = {coll: dict(records) for coll, records in seed.items()}
    for coll, records in changes.items():
        for key, record in records.items():
            if record is None:
                state[coll].pop(key, None)
            else:
                state[coll][key] = record
    return state


def _collections_of(value: str, state: State) -> list[str]:
    return [coll for coll, records in state.items() if value in records]


async def problems(env: str, task: Mapping[str, Any]) -> list[str]:
    """Replay a task's solution and say where it acts for anyone but the user who identified themselves."""
    rules = RULES[env]
    problems: list[str] = []
    async with open_session(import_server(CATALOG / env)) as session:
        await session.reset()
        seed = await session.full_state()
        calls = task["solution"]
        if not calls or calls[0]["tool"] not in rules.identity | rules.register:
            return [f"{task['id']}: the first call does not identify the user"]
        user: str | None = None
        shown = ""
        for index, call in enumerate(calls):
            before = _merged(seed, await session.changes())
            if index > 0:
                assert user is not None
                mine = rules.nested_ids(before[rules.principal][user])
                for name, value in call["arguments"].items():
                    for item in value if isinstance(value, list) else [value]:
                        if not isinstance(item, str):
                            continue
                        for collection in _collections_of(item, before):
                            owner = rules.owner(collection, item, before)
                            if owner not in (None, user):
                                problems.append(f"call {index + 1} {call['tool']}.{name} names {owner}'s {item}")
                            if item != user and (item not in shown or item not in seed[collection]):
                                problems.append(f"call {index + 1} {call['tool']}.{name}: {item} was never shown")
                        if name.endswith("method_id") and item not in mine:
                            problems.append(f"call {index + 1} {call['tool']}.{name}: {item} is not the user's card")
            result = await session.call(call["tool"], call["arguments"])
            shown += result.text
            if index == 0:
                if not result.ok:
                    return [f"{task['id']}: the identity call fails: {result.text}"]
                user = result.value[rules.key]
        after = _merged(seed, await session.changes())
        for collection, records in (await session.changes()).items():
            for key in records:
                for state, when in ((_merged(seed, {}), "before"), (after, "after")):
                    if key in state[collection] and rules.owner(collection, key, state) not in (None, user):
                        problems.append(f"{collection}[{key}] is {rules.owner(collection, key, state)}'s {when}")
    return [f"{task['id']}: {problem}" for problem in problems]
