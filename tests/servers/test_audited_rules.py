"""The hotel, bank, calendar and email audits: each new invariant catches its rule, each fixed body keeps it.

Each invariant case edits seed records (through the control plane's reset) so
that one rule of the policy is broken, and the server's invariant report must
list exactly the invariant written for that rule: the edit breaks nothing else,
and a tool that left such a state behind would be caught. The other tests play
the call sequences that broke a rule before the audit (servers/<env>/POLICY.md)
and check that the server now refuses them or keeps the rule.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import anyio
import pytest
from mcp.client.client import Client

from mcpfactory.runtime import CONTROL_INVARIANTS, CONTROL_RESET, CONTROL_SNAPSHOT, ERROR_META_KEY

Edit = tuple[str, str, dict[str, Any] | None]
"""(collection, key, fields to change on the seed record, or None to delete the record)."""

_LATE_REFUND = {
    "payment_id": "PAY00039",
    "booking_id": "BK0007",
    "guest_id": "G0007",
    "method_id": "pm_visa_9901",
    "kind": "refund",
    "amount": 10.0,
    "created_at": "2024-06-10T09:00:00",
    "memo": "Refund past what was paid",
}

CASES: list[tuple[str, list[Edit], dict[str, dict[str, Any]], str]] = [
    (
        "hotel",
        [("bookings", "BK0007", {"amount_paid": -10.0})],
        {"payments": {"PAY00039": _LATE_REFUND}},
        "amount_paid_non_negative",
    ),
    ("hotel", [("bookings", "BK0007", {"points_redeemed": 150})], {}, "points_redeemed_valid"),
    (
        "hotel",
        [("bookings", "BK0008", {"amount_paid": 498.0}), ("payments", "PAY00033", None)],
        {},
        "late_cancellation_keeps_at_most_first_night",
    ),
    (
        "hotel",
        [("bookings", "BK0013", {"free_cancellation_until": "2024-07-03T15:00:00"})],
        {},
        "deadline_matches_rate_plan",
    ),
    ("hotel", [("bookings", "BK0012", {"cancelled_at": "2024-06-01T08:00:00"})], {}, "cancellation_stamped"),
    (
        "hotel",
        [
            (
                "bookings",
                "BK0012",
                {
                    "nights": [
                        {"date": "2024-06-20", "rate": 259.0},
                        {"date": "2024-06-22", "rate": 299.0},
                        {"date": "2024-06-21", "rate": 299.0},
                    ]
                },
            )
        ],
        {},
        "nights_within_stay",
    ),
    (
        "hotel",
        [
            (
                "bookings",
                "BK0007",
                {
                    "nights": [{"date": "2024-06-14", "rate": 330.0}, {"date": "2024-06-15", "rate": 379.0}],
                    "total": 709.0,
                },
            )
        ],
        {},
        "nightly_rates_are_room_rates",
    ),
    ("bank", [("cards", "CRD-2010", {"status": "active"})], {}, "usable_cards_on_open_accounts"),
    ("bank", [("cards", "CRD-2005", {"replaced_by": "CRD-2001"})], {}, "replacements_on_same_account"),
    ("bank", [("transfers", "TRF-5020", {"from_account_id": "ACC-1016"})], {}, "live_transfers_between_open_accounts"),
    ("bank", [("payees", "PYE-302", {"added_on": "2024-09-14"})], {}, "payees_paid_after_hold"),
    ("bank", [("transfers", "TRF-5003", {"from_account_id": "ACC-1002"})], {}, "scheduled_payments_from_checking"),
    ("bank", [("customers", "C001", {"status": "restricted"})], {}, "restricted_customers_schedule_nothing"),
    ("calendar", [("meetings", "M0016", {"end": "18:15"})], {}, "meeting_length_valid"),
    (
        "calendar",
        [("users", "U005", {"time_off": ["2024-09-19", "2024-09-20", "2024-09-24"]})],
        {},
        "nobody_meets_on_time_off",
    ),
    (
        "calendar",
        [
            (
                "users",
                "U007",
                {
                    "availability": [
                        {"day": "mon", "start": "09:00", "end": "09:30"},
                        {"day": "wed", "start": "09:00", "end": "13:00"},
                        {"day": "fri", "start": "09:00", "end": "13:00"},
                    ]
                },
            )
        ],
        {},
        "working_hours_valid",
    ),
    (
        "email",
        [("messages", "MSG0012", {"to": ["chloe.nguyen@lumenco.com", "promo@dealzone.biz", "raj.patel@lumenco.com"]})],
        {},
        "sent_mail_within_limits",
    ),
    ("email", [("mailboxes", "MB04", {"labels": [{"name": "Starred", "color": "gray"}]})], {}, "label_names_valid"),
]


async def _control(client: Client, name: str, arguments: dict[str, Any] | None = None) -> Any:
    result = await client.call_tool(name, arguments or {})
    text = "".join(getattr(block, "text", "") for block in result.content)
    assert not result.is_error, text
    return json.loads(text)


async def _violations(env: str, edits: list[Edit], added: dict[str, dict[str, Any]]) -> list[str]:
    server = importlib.import_module(f"servers.{env}.server").build(control=True)
    with anyio.fail_after(30):
        async with Client(server, mode="legacy") as client:
            assert await _control(client, CONTROL_INVARIANTS) == {"violations": []}
            seed = (await _control(client, CONTROL_SNAPSHOT))["state"]
            patch: dict[str, dict[str, Any]] = {collection: dict(records) for collection, records in added.items()}
            for collection, key, fields in edits:
                patch.setdefault(collection, {})[key] = None if fields is None else {**seed[collection][key], **fields}
            await _control(client, CONTROL_RESET, {"patch": patch})
            report = await _control(client, CONTROL_INVARIANTS)
    return [violation["name"] for violation in report["violations"]]


@pytest.mark.parametrize(("env", "edits", "added", "invariant"), CASES, ids=[case[3] for case in CASES])
async def test_a_state_that_breaks_an_audited_rule_is_reported_by_its_invariant_alone(
    env: str, edits: list[Edit], added: dict[str, dict[str, Any]], invariant: str
) -> None:
    assert await _violations(env, edits, added) == [invariant]


async def _calls(env: str, calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[bool, Any]]:
    """Play the calls on a fresh session; each gives (is_error, the error code or the structured result)."""
    server = importlib.import_module(f"servers.{env}.server").build()
    outcomes: list[tuple[bool, Any]] = []
    with anyio.fail_after(30):
        async with Client(server, mode="legacy") as client:
            for tool, arguments in calls:
                result = await client.call_tool(tool, arguments)
                if result.is_error:
                    outcomes.append((True, (result.meta or {}).get(ERROR_META_KEY, {}).get("code")))
                else:
                    outcomes.append((False, result.structured_content))
    return outcomes


async def test_a_room_change_that_would_refund_redeemed_points_is_refused() -> None:
    booked, moved, after = await _calls(
        "hotel",
        [
            (
                "book_room",
                {
                    "guest_id": "G0008",
                    "room_id": "HDEN1-601",
                    "check_in": "2024-06-23",
                    "check_out": "2024-06-24",
                    "num_guests": 2,
                    "payment_method_id": "pm_visa_2222",
                    "points_to_redeem": 31900,
                },
            ),
            ("change_room", {"booking_id": "BK0036", "new_room_id": "HDEN1-501"}),
            ("get_booking", {"booking_id": "BK0036"}),
        ],
    )
    assert booked[0] is False
    assert moved == (True, "points_exceed_total")
    assert (after[1]["room_id"], after[1]["amount_paid"], after[1]["points_redeemed"]) == ("HDEN1-601", 0.0, 31900)


async def test_the_replacement_of_a_card_on_a_frozen_account_is_issued_locked() -> None:
    ((failed, replaced),) = await _calls("bank", [("report_card_lost", {"card_id": "CRD-2010"})])
    assert failed is False
    assert (
        replaced["cancelled_card"]["status"],
        replaced["new_card"]["account_id"],
        replaced["new_card"]["status"],
    ) == (
        "cancelled",
        "ACC-1016",
        "locked",
    )


async def test_a_forward_of_a_confidential_message_cannot_leave_the_company_either() -> None:
    inside, outside = await _calls(
        "email",
        [
            ("forward_message", {"mailbox_id": "MB01", "message_id": "MSG0008", "to": ["maria.lopez@lumenco.com"]}),
            ("forward_message", {"mailbox_id": "MB01", "message_id": "MSG0037", "to": ["olivia.hart.home@gmail.com"]}),
        ],
    )
    assert (inside[0], inside[1]["thread"]["labels"]) == (False, ["Confidential"])
    assert outside == (True, "confidential_external")
