"""Synthesised tasks follow the policy: one user per task, only their records, only ids they were shown.

Ownership is judged by `policy_check`, whose rules for hotel and bank are
written by hand, not taken from the synthesiser's own idea of ownership.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcpfactory.synth import SynthReport, synthesize_tasks
from mcpfactory.synth._session import import_server, open_session
from tests.conftest import CATALOG
from tests.synth.policy_check import RULES, problems


def _synthesize(env: str, seed: int, n: int) -> SynthReport:
    async def run() -> SynthReport:
        with anyio.fail_after(300):
            return await synthesize_tasks(CATALOG / env, n=n, seed=seed)

    return anyio.run(run)


def _all_problems(env: str, tasks: list[dict[str, Any]]) -> list[str]:
    async def run() -> list[str]:
        found: list[str] = []
        for task in tasks:
            found += await problems(env, task)
        return found

    return anyio.run(run)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("env", sorted(RULES))
def test_no_synthesized_solution_touches_another_users_records(env: str, seed: int) -> None:
    report = _synthesize(env, seed, 50)
    assert len(report.tasks) == 50
    assert _all_problems(env, report.tasks) == []
    internal = _internal_ids(env)
    for task in report.tasks:
        scenario = task["user_scenario"]
        assert scenario["opening"] and scenario["known"] and scenario["confirm"] == "yes", task["id"]
        # The user never quotes an id they could only have got from the system (the solution looks it up).
        ids = {v for call in task["solution"] for v in call["arguments"].values() if v in internal}
        assert [i for i in ids if i in scenario["opening"]] == [], task["id"]


def _internal_ids(env: str) -> set[str]:
    """Every record key and card id of an environment's seed."""
    rules = RULES[env]

    async def run() -> set[str]:
        async with open_session(import_server(CATALOG / env)) as session:
            await session.reset()
            seed = await session.full_state()
        ids = {key for records in seed.values() for key in records}
        for record in seed[rules.principal].values():
            ids |= rules.nested_ids(record)
        return ids

    return anyio.run(run)


def test_the_ownership_check_catches_a_task_that_acts_for_another_guest() -> None:
    guests = json.loads((CATALOG / "hotel" / "data" / "guests.json").read_text())
    bookings = json.loads((CATALOG / "hotel" / "data" / "bookings.json").read_text())
    user = guests[0]
    theirs = next(b for b in bookings if b["guest_id"] != user["guest_id"])
    task = {
        "id": "hotel-bad",
        "solution": [
            {"tool": "find_guest", "arguments": {"email": user["email"]}},
            {"tool": "get_booking", "arguments": {"booking_id": theirs["booking_id"]}},
        ],
    }
    assert _all_problems("hotel", [task]) == [
        f"hotel-bad: call 2 get_booking.booking_id names {theirs['guest_id']}'s {theirs['booking_id']}",
        f"hotel-bad: call 2 get_booking.booking_id: {theirs['booking_id']} was never shown",
    ]


def test_the_ownership_check_catches_an_id_the_user_was_never_shown(tmp_path: Path) -> None:
    customers = json.loads((CATALOG / "bank" / "data" / "customers.json").read_text())
    cards = json.loads((CATALOG / "bank" / "data" / "cards.json").read_text())
    user = customers[0]
    mine = next(c for c in cards if c["customer_id"] == user["customer_id"] and c["status"] != "cancelled")
    task = {
        "id": "bank-bad",
        "solution": [
            {"tool": "find_customer", "arguments": {"email": user["email"], "date_of_birth": user["date_of_birth"]}},
            {"tool": "report_card_lost", "arguments": {"card_id": mine["card_id"]}},
        ],
    }
    assert _all_problems("bank", [task]) == [
        f"bank-bad: call 2 report_card_lost.card_id: {mine['card_id']} was never shown"
    ]
