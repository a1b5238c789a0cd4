"""tau_airline reproduces tau-bench's airline domain: every reference vector, over a real MCP connection.

The vectors (`shared/reference/tau-bench/airline/reference_vectors.jsonl`) were
recorded by running tau-bench's own tool implementations: each call's result,
and the SHA-256 of the final state. Results are compared as canonical JSON, so
an integer that comes back as a float (150 vs 150.0) is a mismatch. The
refusals that the vectors do not show, and the search tools' quirks on other
inputs, are checked here too.
"""

from __future__ import annotations

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
        await desk.refused(
            "book_reservation",
            "certificate_reused",
            **_booking(
                payment_methods=[
                    {"payment_id": "certificate_4856383", "amount": 50},
                    {"payment_id": "certificate_4856383", "amount": 50},
                    {"payment_id": "credit_card_4421486", "amount": 155},
                ]
            ),
        )
        message = await desk.refused(
            "book_reservation",
            "payment_mismatch",
            **_booking(insurance="yes", nonfree_baggages=1, total_baggages=1),
        )
        assert "335" in message  # 255 + 30 insurance + 50 for the bag
        assert await desk.state_hash() == SEED_SHA256


@needs_server
async def test_bookings_get_fresh_ids_and_spend_balances() -> None:
    async with open_desk() as desk:
        ids = []
        for _ in range(4):
            ids.append((await desk.ok("book_reservation", **_booking()))["reservation_id"])
        assert ids == ["HATHAT", "HATHAU", "HATHAV", "HATHAW"]
        user = await desk.ok("get_user_details", user_id="mia_li_3668")
        assert user["reservations"][-4:] == ids
        # A certificate is used up whatever is left on it.
        booked = await desk.ok(
            "book_reservation",
            **_booking(
                payment_methods=[
                    {"payment_id": "certificate_7504069", "amount": 200},
                    {"payment_id": "credit_card_4421486", "amount": 55},
                ]
            ),
        )
        assert booked["created_at"] == "2024-05-15T15:00:00"
        user = await desk.ok("get_user_details", user_id="mia_li_3668")
        assert "certificate_7504069" not in user["payment_methods"]
        assert booked["payment_history"][0] == {"payment_id": "certificate_7504069", "amount": 200}


@needs_server
async def test_cancelling_twice_is_refused_and_changes_are_refused_after_cancelling() -> None:
    async with open_desk() as desk:
        cancelled = await desk.ok("cancel_reservation", reservation_id="Z7GOZK")
        assert cancelled["status"] == "cancelled"
        assert cancelled["payment_history"] == [
            {"payment_id": "gift_card_2200803", "amount": 169},
            {"payment_id": "gift_card_2200803", "amount": -169},
        ]
        await desk.refused("cancel_reservation", "already_cancelled", reservation_id="Z7GOZK")
        await desk.refused(
            "update_reservation_baggages",
            "reservation_cancelled",
            reservation_id="Z7GOZK",
            total_baggages=1,
            nonfree_baggages=1,
            payment_id="gift_card_2200803",
        )
        await desk.refused(
            "update_reservation_passengers",
            "reservation_cancelled",
            reservation_id="Z7GOZK",
            passengers=[{"first_name": "Olivia", "last_name": "Gonzalez", "dob": "1988-06-13"}],
        )
        assert (await desk.ok("get_reservation_details", reservation_id="Z7GOZK")) == cancelled


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


@needs_server
async def test_certificates_are_issued_at_most_three_times() -> None:
    async with open_desk() as desk:
        texts = [await desk.ok("send_certificate", user_id="mia_li_3668", amount=a) for a in (100, 50, 12.5)]
        assert texts == [
            "Certificate certificate_3221322 added to user mia_li_3668 with amount 100.",
            "Certificate certificate_9643536 added to user mia_li_3668 with amount 50.",
            "Certificate certificate_7483843 added to user mia_li_3668 with amount 12.5.",
        ]
        await desk.refused("send_certificate", "too_many_certificates", user_id="mia_li_3668", amount=10)
        await desk.refused("send_certificate", "invalid_amount", user_id="ethan_martin_2396", amount=-5)


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
