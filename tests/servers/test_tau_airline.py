"""tau_airline reproduces tau-bench's airline domain: every reference vector, over a real MCP connection.

The vectors (`shared/reference/tau-bench/airline/reference_vectors.jsonl`) were
recorded by running tau-bench's own tool implementations: each call's result,
and the SHA-256 of the final state. Results are compared as canonical JSON, so
an integer that comes back as a float (150 vs 150.0) is a mismatch. The
refusals that the vectors do not show, the original's behaviour on call
sequences they do not contain (cancelling twice, changing a cancelled
reservation, naming one certificate or gift card twice, a fourth booking or
certificate), and the search tools' quirks on other inputs are checked here too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from mcpfactory.connect import connect
from mcpfactory.replay import replay
from mcpfactory.runtime import EnvClient
from tests.conftest import CATALOG

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "tau-bench" / "airline"
VECTORS = REFERENCE / "reference_vectors.jsonl"
DATA = CATALOG / "tau_airline" / "data"
SEED_FILES = ("flights", "reservations", "users")
SEED_SHA256 = "f212eeda89b986239ddfb1a9b3d07d2b388112869864655ec9e5cc7ab07ab41c"

needs_server = pytest.mark.skipif(
    not (CATALOG / "tau_airline" / "server.py").exists(), reason="servers/tau_airline is not compiled"
)
needs_vectors = pytest.mark.skipif(not VECTORS.exists(), reason="tau-bench reference vectors not available")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _vectors() -> list[dict[str, Any]]:
    return [json.loads(line) for line in VECTORS.read_text(encoding="utf-8").splitlines() if line.strip()]


class Desk:
    """One MCP session of tau_airline, with the control plane for resets and hashes."""

    def __init__(self, client: EnvClient, tools: dict[str, Any]) -> None:
        self.client = client
        self.tools = tools

    async def call(self, name: str, **arguments: Any) -> dict[str, Any]:
        """{"ok": value} or {"error": text, "code": the domain error code (None if not a domain error)}."""
        result = await self.client.call_tool(name, arguments)
        if result.is_error:
            return {"error": result.text, "code": result.error_code}
        return {"ok": result.value}

    async def ok(self, name: str, **arguments: Any) -> Any:
        got = await self.call(name, **arguments)
        assert "ok" in got, (name, got)
        return got["ok"]

    async def refused(self, name: str, code: str, **arguments: Any) -> str:
        """Call, expect the domain error `code`, and check that the state did not move."""
        before = await self.state_hash()
        got = await self.call(name, **arguments)
        assert got.get("code") == code, (name, arguments, got)
        assert await self.state_hash() == before, f"{name} changed the state while refusing"
        return str(got["error"])

    async def state_hash(self) -> str:
        return await self.client.state_hash()

    async def reset(self) -> None:
        await self.client.reset()


@asynccontextmanager
async def open_desk() -> AsyncIterator[Desk]:
    """A fresh in-memory MCP connection (one session) to tau_airline with the control plane.

    A context manager rather than a fixture: the connection's task group must
    be entered and left in the test's own task.
    """
    async with connect("tau_airline", control=True) as client:
        tools = dict(client.output_schemas)
        yield Desk(client, tools)


def _booking(**changes: Any) -> dict[str, Any]:
    """A valid booking for mia_li_3668: JFK-ATL-SEA on 2024-05-20 in economy, 152 + 103 = 255."""
    booking: dict[str, Any] = {
        "user_id": "mia_li_3668",
        "origin": "JFK",
        "destination": "SEA",
        "flight_type": "one_way",
        "cabin": "economy",
        "flights": [
            {"flight_number": "HAT136", "date": "2024-05-20"},
            {"flight_number": "HAT039", "date": "2024-05-20"},
        ],
        "passengers": [{"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}],
        "payment_methods": [{"payment_id": "credit_card_4421486", "amount": 255}],
        "total_baggages": 0,
        "nonfree_baggages": 0,
        "insurance": "no",
    }
    booking.update(changes)
    return booking


# --- the reference vectors -------------------------------------------------------------------------------------


@needs_server
@needs_vectors
@pytest.mark.slow
async def test_every_reference_vector_replays_exactly() -> None:
    vectors = _vectors()
    assert len(vectors) == 50
    replayed = [line async for line in replay("tau_airline", vectors)]
    assert [line["task"] for line in replayed] == [vector["task"] for vector in vectors]
    mismatches: list[str] = []
    calls = 0
    for vector, line in zip(vectors, replayed, strict=True):
        assert len(line["results"]) == len(vector["calls"]), vector["task"]
        for index, (call, got) in enumerate(zip(vector["calls"], line["results"], strict=True)):
            calls += 1
            expected = call["expected"]
            if "ok" in expected:
                if "ok" not in got or _canonical(got["ok"]) != _canonical(expected["ok"]):
                    mismatches.append(f"{vector['task']} call {index} {call['tool']}: {_canonical(got)[:200]}")
            elif "error" not in got or got["error"].startswith("Internal error"):
                mismatches.append(f"{vector['task']} call {index} {call['tool']}: expected a refusal, got {got}")
        if line["final_state_sha256"] != vector["final_state_sha256"]:
            mismatches.append(f"{vector['task']}: final state hash differs")
    assert calls == 158
    assert mismatches == []


@needs_server
@pytest.mark.slow
async def test_task_solutions_reach_the_reference_states() -> None:
    tasks = [json.loads(line) for line in (CATALOG / "tau_airline" / "tasks.jsonl").read_text().splitlines()]
    assert len(tasks) == 50
    expected = {v["task"]: v["final_state_sha256"] for v in _vectors()} if VECTORS.exists() else {}
    async for line in replay("tau_airline", tasks):
        assert all("ok" in result for result in line["results"]), line["task"]
        if expected:
            assert line["final_state_sha256"] == expected[line["task"]], line["task"]


@needs_server
async def test_seed_state_hash_matches_tau_bench() -> None:
    async with open_desk() as desk:
        assert await desk.state_hash() == SEED_SHA256


# --- refusals the vectors do not show ----------------------------------------------------------------------------


@needs_server
async def test_lookups_of_unknown_ids_are_refused() -> None:
    async with open_desk() as desk:
        await desk.refused("get_user_details", "user_not_found", user_id="nobody_0000")
        await desk.refused("get_reservation_details", "reservation_not_found", reservation_id="NOSUCH")
        await desk.refused("cancel_reservation", "reservation_not_found", reservation_id="NOSUCH")
        await desk.refused("send_certificate", "user_not_found", user_id="nobody_0000", amount=100)
        for tool, args in [
            ("update_reservation_baggages", {"total_baggages": 1, "nonfree_baggages": 0, "payment_id": "x"}),
            ("update_reservation_flights", {"cabin": "economy", "flights": [], "payment_id": "x"}),
            ("update_reservation_passengers", {"passengers": []}),
        ]:
            await desk.refused(tool, "reservation_not_found", reservation_id="NOSUCH", **args)


@needs_server
async def test_booking_refusals_leave_the_state_untouched() -> None:
    async with open_desk() as desk:
        await desk.refused("book_reservation", "user_not_found", **_booking(user_id="nobody_0000"))
        await desk.refused(
            "book_reservation",
            "flight_not_found",
            **_booking(flights=[{"flight_number": "HAT999", "date": "2024-05-20"}]),
        )
        await desk.refused(
            "book_reservation",
            "flight_date_not_found",
            **_booking(flights=[{"flight_number": "HAT136", "date": "2024-06-20"}]),
        )
        # HAT001 landed on 2024-05-01.
        await desk.refused(
            "book_reservation",
            "flight_not_available",
            **_booking(flights=[{"flight_number": "HAT001", "date": "2024-05-01"}]),
        )
        # HAT136 has two business seats left on 2024-05-20.
        three = [{"first_name": n, "last_name": "Li", "dob": "1990-04-05"} for n in ("Mia", "Ann", "Bo")]
        await desk.refused("book_reservation", "not_enough_seats", **_booking(cabin="business", passengers=three))
        await desk.refused(
            "book_reservation",
            "payment_method_not_found",
            **_booking(payment_methods=[{"payment_id": "credit_card_0000000", "amount": 255}]),
        )
        # certificate_4856383 holds $100.
        await desk.refused(
            "book_reservation",
            "insufficient_balance",
            **_booking(payment_methods=[{"payment_id": "certificate_4856383", "amount": 255}]),
        )
        message = await desk.refused(
            "book_reservation",
            "payment_mismatch",
            **_booking(insurance="yes", nonfree_baggages=1, total_baggages=1),
        )
        assert "335" in message  # 255 + 30 insurance + 50 for the bag
        assert await desk.state_hash() == SEED_SHA256


@needs_server
async def test_change_payments_follow_the_rules() -> None:
    async with open_desk() as desk:
        # NO6JO3 belongs to mia_li_3668, who holds certificates: they cannot pay for changes.
        await desk.refused(
            "update_reservation_baggages",
            "certificate_not_allowed",
            reservation_id="NO6JO3",
            total_baggages=5,
            nonfree_baggages=5,
            payment_id="certificate_4856383",
        )
        await desk.refused(
            "update_reservation_baggages",
            "payment_method_not_found",
            reservation_id="NO6JO3",
            total_baggages=5,
            nonfree_baggages=5,
            payment_id="gift_card_3481935",  # someone else's gift card
        )
        # 4WQ150's owner has a $245 gift card; five more paid bags cost $250.
        await desk.refused(
            "update_reservation_baggages",
            "insufficient_gift_card_balance",
            reservation_id="4WQ150",
            total_baggages=10,
            nonfree_baggages=5,
            payment_id="gift_card_3576581",
        )
        # Upgrading NA6PZ3 to business on the same flights costs $1270; its owner's gift card holds $278.
        await desk.refused(
            "update_reservation_flights",
            "insufficient_gift_card_balance",
            reservation_id="NA6PZ3",
            cabin="business",
            flights=[
                {"flight_number": "HAT275", "date": "2024-05-27"},
                {"flight_number": "HAT106", "date": "2024-05-27"},
                {"flight_number": "HAT053", "date": "2024-05-29"},
                {"flight_number": "HAT167", "date": "2024-05-29"},
            ],
            payment_id="gift_card_3613186",
        )
        await desk.refused(
            "update_reservation_flights",
            "flight_not_available",
            reservation_id="JG7FMM",
            cabin="economy",
            flights=[{"flight_number": "HAT001", "date": "2024-05-01"}],
            payment_id="credit_card_2929732",
        )
        await desk.refused(
            "update_reservation_passengers",
            "passenger_count_mismatch",
            reservation_id="JG7FMM",
            passengers=[{"first_name": "Omar", "last_name": "Davis", "dob": "1982-10-19"}],
        )
        # Bags are charged only for new non-free ones: 2 more paid bags on the gift card cost $100.
        bags = await desk.ok(
            "update_reservation_baggages",
            reservation_id="4WQ150",
            total_baggages=7,
            nonfree_baggages=2,
            payment_id="gift_card_3576581",
        )
        assert bags["payment_history"][-1] == {"payment_id": "gift_card_3576581", "amount": 100}
        user = await desk.ok("get_user_details", user_id="chen_jackson_3290")
        assert user["payment_methods"]["gift_card_3576581"]["amount"] == 145


# --- tau-bench's quirks, reproduced -------------------------------------------------------------------------------
# Each expected value below is worked out by hand from the original tools' steps (given in the docstrings) and the
# seed data, never read from this server: results are compared whole, and the final state against the seed with the
# stated changes applied, hashed the same way.


def _seed() -> dict[str, Any]:
    return {name: json.loads((DATA / f"{name}.json").read_text(encoding="utf-8")) for name in SEED_FILES}


def _sha256(state: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(state).encode("utf-8")).hexdigest()


def _trip(reservation_id: str, user_id: str, payments: list[dict[str, Any]], bags: int = 0) -> dict[str, Any]:
    """The reservation that `_booking` makes: JFK-ATL (HAT136, $152) and ATL-SEA (HAT039, $103) for Mia Li."""
    return {
        "reservation_id": reservation_id,
        "user_id": user_id,
        "origin": "JFK",
        "destination": "SEA",
        "flight_type": "one_way",
        "cabin": "economy",
        "flights": [
            {"flight_number": "HAT136", "date": "2024-05-20", "price": 152, "origin": "JFK", "destination": "ATL"},
            {"flight_number": "HAT039", "date": "2024-05-20", "price": 103, "origin": "ATL", "destination": "SEA"},
        ],
        "passengers": [{"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}],
        "payment_history": payments,
        "created_at": "2024-05-15T15:00:00",
        "total_baggages": bags,
        "nonfree_baggages": 0,
        "insurance": "no",
    }


@needs_server
async def test_cancelling_twice_reverses_every_entry_again() -> None:
    """Z7GOZK was paid 169 from gift_card_2200803.

    The original negates every entry of the history and appends the negations, with no
    status check: the first cancel gives [169, -169]; the second negates both, giving
    [169, -169, -169, 169]. Nothing else changes (refunds never touch balances).
    """
    expected = _seed()
    reservation = expected["reservations"]["Z7GOZK"]
    reservation["payment_history"] = [
        {"payment_id": "gift_card_2200803", "amount": amount} for amount in (169, -169, -169, 169)
    ]
    reservation["status"] = "cancelled"
    async with open_desk() as desk:
        await desk.ok("cancel_reservation", reservation_id="Z7GOZK")
        again = await desk.ok("cancel_reservation", reservation_id="Z7GOZK")
        assert _canonical(again) == _canonical(reservation)
        assert await desk.state_hash() == _sha256(expected)


@needs_server
async def test_a_cancelled_reservation_is_changed_all_the_same() -> None:
    """JG7FMM: business, two passengers, flights at 1859 and 1679, paid 7136 by credit_card_2929732.

    The original's change tools never look at the status. After the cancel ([7136, -7136]):
    flights moved to economy on the same flight numbers (not kept: the cabin differs) cost
    (140 + 101) * 2 - (1859 + 1679) * 2 = -6594; bags 0 -> 2 non-free cost 50 * 2 = 100; the
    passengers are replaced; the cabin field stays business and the status cancelled. The
    second cancel negates all four entries.
    """
    new_flights = [
        {"flight_number": "HAT028", "date": "2024-05-21"},
        {"flight_number": "HAT277", "date": "2024-05-21"},
    ]
    passengers = [
        {"first_name": "Omar", "last_name": "Davis", "dob": "1982-10-19"},
        {"first_name": "Ann", "last_name": "Lee", "dob": "1990-01-01"},
    ]
    expected = _seed()
    reservation = expected["reservations"]["JG7FMM"]
    reservation["flights"] = [
        {"flight_number": "HAT028", "date": "2024-05-21", "price": 140, "origin": "MCO", "destination": "BOS"},
        {"flight_number": "HAT277", "date": "2024-05-21", "price": 101, "origin": "BOS", "destination": "CLT"},
    ]
    reservation["total_baggages"] = 5
    reservation["nonfree_baggages"] = 2
    reservation["passengers"] = passengers
    reservation["payment_history"] = [
        {"payment_id": "credit_card_2929732", "amount": amount}
        for amount in (7136, -7136, -6594, 100, -7136, 7136, 6594, -100)
    ]
    reservation["status"] = "cancelled"
    card = "credit_card_2929732"
    async with open_desk() as desk:
        await desk.ok("cancel_reservation", reservation_id="JG7FMM")
        moved = await desk.ok(
            "update_reservation_flights", reservation_id="JG7FMM", cabin="economy", flights=new_flights, payment_id=card
        )
        assert moved["flights"] == reservation["flights"] and moved["cabin"] == "business"
        assert moved["payment_history"][-1] == {"payment_id": card, "amount": -6594}
        assert moved["status"] == "cancelled"
        bags = await desk.ok(
            "update_reservation_baggages",
            reservation_id="JG7FMM",
            total_baggages=5,
            nonfree_baggages=2,
            payment_id=card,
        )
        assert bags["payment_history"][-1] == {"payment_id": card, "amount": 100}
        renamed = await desk.ok("update_reservation_passengers", reservation_id="JG7FMM", passengers=passengers)
        assert renamed["passengers"] == passengers
        again = await desk.ok("cancel_reservation", reservation_id="JG7FMM")
        assert _canonical(again) == _canonical(reservation)
        assert await desk.state_hash() == _sha256(expected)


@needs_server
async def test_naming_one_certificate_twice_spends_it_and_books_nothing() -> None:
    """mei_hernandez_8984 pays 255 as gift card 5 + certificate_7502997 125 + the same certificate 125.

    Each entry passes the original's checks on its own (98 >= 5, 250 >= 125 twice) and the
    sum is 255. Charging then goes entry by entry: the gift card drops to 93, the certificate
    is deleted, and the second certificate entry looks it up again and fails with a KeyError,
    which tau-bench returns as the text "Error: 'certificate_7502997'". What was spent stays
    spent; no reservation is stored. A retry naming the certificate is then refused.
    """
    payments = [
        {"payment_id": "gift_card_5309492", "amount": 5},
        {"payment_id": "certificate_7502997", "amount": 125},
        {"payment_id": "certificate_7502997", "amount": 125},
    ]
    expected = _seed()
    methods = expected["users"]["mei_hernandez_8984"]["payment_methods"]
    methods["gift_card_5309492"]["amount"] = 93
    del methods["certificate_7502997"]
    async with open_desk() as desk:
        got = await desk.call("book_reservation", **_booking(user_id="mei_hernandez_8984", payment_methods=payments))
        assert got == {"ok": "Error: 'certificate_7502997'"}
        assert await desk.state_hash() == _sha256(expected)
        retry = [
            {"payment_id": "certificate_7502997", "amount": 250},
            {"payment_id": "gift_card_5309492", "amount": 5},
        ]
        await desk.refused(
            "book_reservation",
            "payment_method_not_found",
            **_booking(user_id="mei_hernandez_8984", payment_methods=retry),
        )


@needs_server
async def test_naming_one_gift_card_twice_can_overdraw_it() -> None:
    """mei_hernandez_8984 pays 255 as gift card 90 + the same gift card 90 + credit card 75.

    The original checks each entry against the balance alone (98 >= 90, twice), then deducts
    both: 98 - 90 - 90 = -82. The booking succeeds as HATHAT with the three entries as given.
    """
    payments = [
        {"payment_id": "gift_card_5309492", "amount": 90},
        {"payment_id": "gift_card_5309492", "amount": 90},
        {"payment_id": "credit_card_2140654", "amount": 75},
    ]
    expected = _seed()
    user = expected["users"]["mei_hernandez_8984"]
    user["payment_methods"]["gift_card_5309492"]["amount"] = -82
    user["reservations"].append("HATHAT")
    expected["reservations"]["HATHAT"] = _trip("HATHAT", "mei_hernandez_8984", payments)
    async with open_desk() as desk:
        booked = await desk.ok("book_reservation", **_booking(user_id="mei_hernandez_8984", payment_methods=payments))
        assert _canonical(booked) == _canonical(expected["reservations"]["HATHAT"])
        assert await desk.state_hash() == _sha256(expected)


@needs_server
async def test_a_fourth_booking_replaces_hathav() -> None:
    """The original tries HATHAT, then HATHAU, then takes HATHAV without looking further.

    mei_hernandez_8984 books three times (HATHAT, HATHAU, HATHAV); mia_li_3668's booking
    then overwrites HATHAV and appends it to her list, while mei's list still names HATHAV.
    A certificate is used up whatever is left on it (250 - 200 is forfeited).
    """
    mei = [{"payment_id": "credit_card_2140654", "amount": 255}]
    mia = [
        {"payment_id": "certificate_7504069", "amount": 200},
        {"payment_id": "credit_card_4421486", "amount": 55},
    ]
    expected = _seed()
    for reservation_id in ("HATHAT", "HATHAU"):
        expected["reservations"][reservation_id] = _trip(reservation_id, "mei_hernandez_8984", mei)
    expected["reservations"]["HATHAV"] = _trip("HATHAV", "mia_li_3668", mia)
    expected["users"]["mei_hernandez_8984"]["reservations"] += ["HATHAT", "HATHAU", "HATHAV"]
    expected["users"]["mia_li_3668"]["reservations"].append("HATHAV")
    del expected["users"]["mia_li_3668"]["payment_methods"]["certificate_7504069"]
    async with open_desk() as desk:
        ids = []
        for _ in range(3):
            booked = await desk.ok("book_reservation", **_booking(user_id="mei_hernandez_8984", payment_methods=mei))
            ids.append(booked["reservation_id"])
        assert ids == ["HATHAT", "HATHAU", "HATHAV"]
        fourth = await desk.ok("book_reservation", **_booking(payment_methods=mia))
        assert _canonical(fourth) == _canonical(expected["reservations"]["HATHAV"])
        assert await desk.ok("get_reservation_details", reservation_id="HATHAV") == fourth
        assert await desk.state_hash() == _sha256(expected)


@needs_server
async def test_certificates_take_three_fixed_ids_and_any_amount() -> None:
    """The original tries certificate_3221322, _3221323 and _3221324 in turn and adds the first free one.

    The amount is neither checked nor converted: -5, 0 and 150.0 are stored and written back
    as given. With all three ids held, a fourth call returns None (null) and changes nothing.
    Once a booking uses up certificate_3221324, the next certificate takes that id again.
    """
    user = "mei_hernandez_8984"
    expected = _seed()
    methods = expected["users"][user]["payment_methods"]
    async with open_desk() as desk:
        texts = [await desk.ok("send_certificate", user_id=user, amount=a) for a in (-5, 0, 150.0)]
        assert texts == [
            f"Certificate certificate_3221322 added to user {user} with amount -5.",
            f"Certificate certificate_3221323 added to user {user} with amount 0.",
            f"Certificate certificate_3221324 added to user {user} with amount 150.0.",
        ]
        assert await desk.call("send_certificate", user_id=user, amount=10) == {"ok": None}
        for number, amount in (("3221322", -5), ("3221323", 0), ("3221324", 150.0)):
            methods[f"certificate_{number}"] = {
                "source": "certificate",
                "amount": amount,
                "id": f"certificate_{number}",
            }
        assert await desk.state_hash() == _sha256(expected)
        # 150.0 stays a float: the certificate pays 150.0 of 255, the card the rest.
        payments = [
            {"payment_id": "certificate_3221324", "amount": 150.0},
            {"payment_id": "credit_card_2140654", "amount": 105},
        ]
        booked = await desk.ok("book_reservation", **_booking(user_id=user, payment_methods=payments))
        assert _canonical(booked["payment_history"]) == _canonical(payments)
        assert await desk.ok("send_certificate", user_id=user, amount=40) == (
            f"Certificate certificate_3221324 added to user {user} with amount 40."
        )
        methods["certificate_3221324"] = {"source": "certificate", "amount": 40, "id": "certificate_3221324"}
        expected["users"][user]["reservations"].append("HATHAT")
        expected["reservations"]["HATHAT"] = _trip("HATHAT", user, payments)
        assert await desk.state_hash() == _sha256(expected)


@needs_server
async def test_calculate_rounds_like_python_and_refuses_bad_expressions() -> None:
    async with open_desk() as desk:
        for expression, value in [
            ("2 * ((350 - 122) + (499 - 127))", 1200.0),
            ("10 / 3", 3.33),
            ("-2 ** 2", -4.0),
            ("2 ** -1", 0.5),
            ("7 // 2 + .5", 3.5),
            ("0.1 + 0.2", 0.3),
        ]:
            assert _canonical(await desk.ok("calculate", expression=expression)) == _canonical(value), expression
        for expression in ["1 / 0", "2 +", "(1", "1)", "()", "1 2", "01", "abs(-1)", "__import__('os')", "9**9**9", ""]:
            await desk.refused("calculate", "invalid_expression", expression=expression)


@needs_server
async def test_fixed_answers() -> None:
    async with open_desk() as desk:
        airports = await desk.ok("list_all_airports")
        assert len(airports) == 20 and airports["LGA"] == "LaGuardia" and next(iter(airports)) == "SFO"
        assert await desk.ok("think", thought="anything") == ""
        assert await desk.ok("transfer_to_human_agents", summary="anything") == "Transfer successful"


# --- the searches on inputs the vectors do not show ----------------------------------------------------------------


def _flights() -> dict[str, Any]:
    return json.loads((DATA / "flights.json").read_text(encoding="utf-8"))


def _leg(flight: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    leg = {key: value for key, value in flight.items() if key != "dates"}
    leg.update(status)
    return leg


def _expected_onestop(flights: dict[str, Any], origin: str, destination: str, date: str) -> list[Any]:
    """Independent statement of tau-bench's one-stop search, quirks included.

    Pairs are listed in catalogue order (first leg, then second leg). The
    connection must not depart before the first leg arrives, compared as
    'HH:MM:SS' text (an overnight arrival keeps its '+1' suffix). After an
    overnight first leg, the second leg's date is '2024-05-' followed by the
    unpadded next day number (so '2024-05-6', which no flight has). Both legs
    must be bookable on their dates, but the second leg's status fields are
    those of the first leg's date.
    """
    found = []
    for first in flights.values():
        for second in flights.values():
            if (first["origin"], second["destination"], first["destination"]) != (
                origin,
                destination,
                second["origin"],
            ):
                continue
            arrival = first["scheduled_arrival_time_est"]
            next_date = f"2024-05-{int(date[-2:]) + 1}" if "+1" in arrival else date
            if arrival > second["scheduled_departure_time_est"]:
                continue
            day1, day2 = first["dates"].get(date), second["dates"].get(next_date)
            if day1 is None or day2 is None or day1["status"] != "available" or day2["status"] != "available":
                continue
            found.append(
                [{**_leg(first, day1), "date": date}, {**_leg(second, second["dates"][date]), "date": next_date}]
            )
    return found


@needs_server
async def test_searches_match_the_original_rules() -> None:
    async with open_desk() as desk:
        flights = _flights()
        cases = [
            ("JFK", "SEA", "2024-05-20"),
            ("ATL", "SEA", "2024-05-15"),
            ("LGA", "SEA", "2024-05-05"),
            ("SEA", "BOS", "2024-05-12"),
            ("LAX", "MIA", "2024-05-29"),
            ("PHX", "JFK", "2024-05-30"),
            ("ORD", "DEN", "2024-05-01"),
        ]
        overnight = 0
        for origin, destination, date in cases:
            expected = _expected_onestop(flights, origin, destination, date)
            got = await desk.ok("search_onestop_flight", origin=origin, destination=destination, date=date)
            assert _canonical(got) == _canonical(expected), (origin, destination, date)
            overnight += sum(pair[1]["date"] != date for pair in expected)
            direct = [
                _leg(flight, flight["dates"][date])
                for flight in flights.values()
                if (flight["origin"], flight["destination"]) == (origin, destination)
                and flight["dates"].get(date, {}).get("status") == "available"
            ]
            got = await desk.ok("search_direct_flight", origin=origin, destination=destination, date=date)
            assert _canonical(got) == _canonical(direct), (origin, destination, date)
        assert overnight > 0, "no case exercises an overnight connection"
        assert await desk.ok("search_direct_flight", origin="JFK", destination="SEA", date="2024-06-01") == []
