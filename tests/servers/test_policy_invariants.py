"""Each invariant added by the policy audits (servers/<env>/POLICY.md) reports the state that breaks its rule.

A seed record is changed to break one policy rule, loaded into a session with
the control plane's reset, and the session's invariant report must name
exactly the invariant that guards that rule: no more (the change breaks only
that rule) and no less (the invariant would catch a tool that broke it).
"""

from __future__ import annotations

import copy
import importlib
import json
from typing import Any

import anyio
import pytest
from mcp.client.client import Client

from mcpfactory.runtime import CONTROL_INVARIANTS, CONTROL_RESET, CONTROL_SNAPSHOT

Change = tuple[str, str, dict[str, Any] | None]
"""(collection, key, fields to set on the seed record; None with a key not in the seed: see `_NEW`)."""

_NEW: dict[tuple[str, str, str], dict[str, Any]] = {
    ("library", "loans", "L0034"): {
        "loan_id": "L0034",
        "copy_id": "C1005",
        "title_id": "T002",
        "member_id": "M1001",
        "branch_id": "EAS",
        "checked_out": "2024-03-12",
        "due": "2024-04-02",
        "renewals": 0,
        "returned_on": None,
        "status": "active",
    },
    ("library", "fines", "F0009"): {
        "fine_id": "F0009",
        "member_id": "M1003",
        "loan_id": "L0013",
        "kind": "overdue",
        "amount": 1.75,
        "paid": 0.0,
        "status": "unpaid",
        "created_on": "2024-03-12",
        "note": "Charlotte's Web, 7 days late",
    },
    ("file_system", "shares", "sh013"): {
        "share_id": "sh013",
        "item_type": "folder",
        "item_id": "fo001",
        "user_id": "u02",
        "role": "viewer",
        "granted_at": "2024-09-16T09:00:00",
    },
}

CASES: list[tuple[str, list[Change], str]] = [
    ("library", [("loans", "L0025", {"renewals": 3})], "renewals_within_limit"),
    (
        "library",
        [("copies", "C1005", {"status": "on_loan"}), ("loans", "L0034", None)],
        "one_active_loan_per_member_and_title",
    ),
    ("library", [("fines", "F0009", None)], "overdue_fines_within_policy"),
    ("library", [("fines", "F0007", {"amount": 10.0, "paid": 10.0})], "lost_loans_charged_replacement_cost"),
    ("library", [("holds", "H0002", {"ready_until": "2024-03-19"})], "hold_fields_match_status"),
    ("hr_leave", [("requests", "LR0001", {"decided_by": "E1005"})], "decided_by_the_direct_manager"),
    ("hr_leave", [("requests", "LR0024", {"decision_note": " "})], "rejections_give_a_reason"),
    ("hr_leave", [("requests", "LR0007", {"decided_by": "E1002"})], "sick_leave_never_waits_for_approval"),
    ("hr_leave", [("requests", "LR0017", {"days": 25})], "requests_within_type_limits"),
    ("groceries", [("orders", "ORD-1009", {"delivered_at": "2024-09-16T09:00:00"})], "order_dates_match_status"),
    ("file_system", [("files", "fi001", {"name": "drafts/brief.pdf"})], "names_valid"),
    ("file_system", [("shares", "sh013", None)], "my_drive_never_shared"),
]


async def _control(client: Client, name: str, arguments: dict[str, Any] | None = None) -> Any:
    result = await client.call_tool(name, arguments or {})
    text = "".join(getattr(block, "text", "") for block in result.content)
    assert not result.is_error, text
    return json.loads(text)


def _patch(env: str, seed: dict[str, Any], changes: list[Change]) -> dict[str, dict[str, Any]]:
    patch: dict[str, dict[str, Any]] = {}
    for collection, key, fields in changes:
        seeded = copy.deepcopy(seed[collection].get(key))
        record = _NEW[env, collection, key] if fields is None else {**seeded, **fields}
        patch.setdefault(collection, {})[key] = record
    return patch


async def _violations(env: str, changes: list[Change]) -> list[str]:
    server = importlib.import_module(f"servers.{env}.server").build(control=True)
    with anyio.fail_after(30):
        async with Client(server, mode="legacy") as client:
            assert await _control(client, CONTROL_INVARIANTS) == {"violations": []}
            seed = (await _control(client, CONTROL_SNAPSHOT))["state"]
            await _control(client, CONTROL_RESET, {"patch": _patch(env, seed, changes)})
            report = await _control(client, CONTROL_INVARIANTS)
    return [violation["name"] for violation in report["violations"]]


@pytest.mark.parametrize(("env", "changes", "invariant"), CASES, ids=[case[2] for case in CASES])
async def test_an_invariant_names_the_state_that_breaks_its_rule(
    env: str, changes: list[Change], invariant: str
) -> None:
    assert await _violations(env, changes) == [invariant]


async def test_a_cart_over_a_per_order_limit_breaks_only_that_invariant() -> None:
    line = {
        "product_id": "P801",
        "name": "Paper Towels",
        "unit": "6 rolls",
        "quantity": 3,
        "unit_price": 11.99,
        "line_total": 35.97,
    }
    changes: list[Change] = [("carts", "C004", {"items": [line], "subtotal": 35.97})]
    assert await _violations("groceries", changes) == ["per_order_limits_respected"]


async def test_an_item_credit_above_the_price_paid_breaks_only_that_invariant() -> None:
    refund = {
        "product_id": "P202",
        "quantity": 1,
        "reason": "damaged",
        "amount": 5.0,
        "created_at": "2024-09-15T21:02:00",
    }
    assert await _violations("groceries", [("orders", "ORD-1005", {"refunds": [refund]})]) == [
        "item_credits_at_price_paid"
    ]


async def test_an_employee_missing_a_tracked_balance_breaks_only_that_invariant() -> None:
    balances = [
        {"leave_type": "annual", "entitled": 25, "carried_over": 0, "used": 0, "pending": 0},
        {"leave_type": "sick", "entitled": 10, "carried_over": 0, "used": 0, "pending": 0},
    ]
    assert await _violations("hr_leave", [("employees", "E1013", {"balances": balances})]) == [
        "tracked_types_have_one_balance"
    ]
