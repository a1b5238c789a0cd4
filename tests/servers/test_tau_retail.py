"""tau_retail reproduces tau-bench's retail domain: every reference vector, over a real MCP connection.

The vectors (`shared/reference/tau-bench/retail/reference_vectors.jsonl`) were
recorded by running tau-bench's own tool implementations: each call's result
or refusal, and the SHA-256 of the final state. A few refusals that the
vectors do not show are checked here too.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from mcpfactory.connect import connect
from mcpfactory.replay import replay
from mcpfactory.runtime import EnvClient
from tests.conftest import CATALOG

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "tau-bench" / "retail"
VECTORS = REFERENCE / "reference_vectors.jsonl"
DATA = CATALOG / "tau_retail" / "data"
SEED_SHA256 = "ae10e8a7f23bedf88c90a528efa2d59d27cae24b5ce1f0d28768b39257bf9f0d"
NOT_DOMAIN = ("invalid_arguments", "unknown_tool")

needs_server = pytest.mark.skipif(
    not (CATALOG / "tau_retail" / "server.py").exists(), reason="servers/tau_retail is not compiled"
)
needs_vectors = pytest.mark.skipif(not VECTORS.exists(), reason="tau-bench reference vectors not available")


def _vectors() -> list[dict[str, Any]]:
    return [json.loads(line) for line in VECTORS.read_text(encoding="utf-8").splitlines() if line.strip()]


async def _call(client: EnvClient, tools: dict[str, Any], name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool; return {"ok": value} or {"error": text, "code": domain error code or None}."""
    result = await client.call_tool(name, arguments)
    if result.is_error:
        return {"error": result.text, "code": result.error_code}
    return {"ok": result.value}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _seed() -> dict[str, Any]:
    return {
        name: json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
        for name in ("orders", "products", "users")
    }


async def _state_hash(client: EnvClient) -> str:
    return await client.state_hash()


@needs_server
@needs_vectors
@pytest.mark.slow
async def test_every_reference_vector_replays_exactly() -> None:
    vectors = _vectors()
    assert len(vectors) == 115
    replayed = [line async for line in replay("tau_retail", vectors)]
    assert [line["task"] for line in replayed] == [vector["task"] for vector in vectors]
    mismatches: list[str] = []
    calls = 0
    for vector, line in zip(vectors, replayed, strict=True):
        assert len(line["results"]) == len(vector["calls"]), vector["task"]
        for index, (call, got) in enumerate(zip(vector["calls"], line["results"], strict=True)):
            calls += 1
            expected = call["expected"]
            if "ok" in expected:
                if got != expected:
                    mismatches.append(f"{vector['task']} call {index} {call['tool']}: {json.dumps(got)[:200]}")
            elif "error" not in got or got["error"].startswith("Internal error"):
                mismatches.append(f"{vector['task']} call {index} {call['tool']}: expected a refusal, got {got}")
        if line["final_state_sha256"] != vector["final_state_sha256"]:
            mismatches.append(f"{vector['task']}: final state hash differs")
    assert calls == 582
    assert mismatches == []


@needs_server
@needs_vectors
async def test_refusals_in_the_vectors_are_domain_errors() -> None:
    """Every call the original refused is refused with a declared domain error, never a fault or bad arguments."""
    async with connect("tau_retail", control=True) as client:
        tools = dict(client.output_schemas)
        refused = 0
        for vector in _vectors():
            if not any("error" in call["expected"] for call in vector["calls"]):
                continue
            await client.reset()
            for call in vector["calls"]:
                got = await _call(client, tools, call["tool"], call["arguments"])
                if "error" in call["expected"]:
                    refused += 1
                    assert "error" in got, (vector["task"], call)
                    assert got["code"] is not None and got["code"] not in NOT_DOMAIN, (vector["task"], got)
                else:
                    assert got == call["expected"], (vector["task"], call["tool"])
            assert await _state_hash(client) == vector["final_state_sha256"], vector["task"]
        assert refused == 24


@needs_server
async def test_seed_state_hash_matches_tau_bench() -> None:
    async with connect("tau_retail", control=True) as client:
        assert await _state_hash(client) == SEED_SHA256


@needs_server
async def test_cancelling_twice_is_refused_the_second_time() -> None:
    async with connect("tau_retail", control=True) as client:
        tools = dict(client.output_schemas)
        first = await _call(
            client, tools, "cancel_pending_order", {"order_id": "#W3897284", "reason": "no longer needed"}
        )
        assert first["ok"]["status"] == "cancelled"
        assert first["ok"]["cancel_reason"] == "no longer needed"
        after_first = await _state_hash(client)
        user = await _call(client, tools, "get_user_details", {"user_id": "noah_hernandez_4232"})
        assert user["ok"]["payment_methods"]["gift_card_3410768"]["balance"] == 323.58  # 56 + 267.58, refunded at once
        second = await _call(
            client, tools, "cancel_pending_order", {"order_id": "#W3897284", "reason": "no longer needed"}
        )
        assert second["code"] == "not_pending"
        assert await _state_hash(client) == after_first


@needs_server
async def test_unknown_ids_are_refused() -> None:
    async with connect("tau_retail", control=True) as client:
        tools = dict(client.output_schemas)
        cases = [
            ("get_order_details", {"order_id": "#W0000000"}, "order_not_found"),
            ("cancel_pending_order", {"order_id": "#W0000000", "reason": "ordered by mistake"}, "order_not_found"),
            ("get_user_details", {"user_id": "nobody_0000"}, "user_not_found"),
            ("get_product_details", {"product_id": "7579176349"}, "product_not_found"),  # an item id, not a product id
            (
                "return_delivered_order_items",
                {"order_id": "#W8341134", "item_ids": ["0000000000"], "payment_method_id": "paypal_4191414"},
                "item_not_found",
            ),
            (
                "exchange_delivered_order_items",
                {
                    "order_id": "#W8341134",
                    "item_ids": ["7579176349"],
                    "new_item_ids": ["9190635437"],  # a Desk Lamp: not a variant of the ordered Notebook
                    "payment_method_id": "paypal_4191414",
                },
                "new_item_unavailable",
            ),
            (
                "modify_pending_order_payment",
                {"order_id": "#W8328622", "payment_method_id": "paypal_4191414"},  # another user's method
                "payment_method_not_found",
            ),
        ]
        for name, arguments, code in cases:
            got = await _call(client, tools, name, arguments)
            assert got.get("code") == code, (name, got)
        assert await _state_hash(client) == SEED_SHA256


@needs_server
async def test_insufficient_gift_card_balance_is_refused() -> None:
    async with connect("tau_retail", control=True) as client:
        tools = dict(client.output_schemas)
        # lei_li_6575's gift card cannot pay a 2749.56 order.
        got = await _call(
            client,
            tools,
            "modify_pending_order_payment",
            {"order_id": "#W5166363", "payment_method_id": "gift_card_8049813"},
        )
        assert got["code"] == "insufficient_gift_card_balance"
        # fatima_li_8519's gift card (47) cannot pay a 56.91 price difference.
        got = await _call(
            client,
            tools,
            "modify_pending_order_items",
            {
                "order_id": "#W5267498",
                "item_ids": ["6700049080"],
                "new_item_ids": ["7523669277"],
                "payment_method_id": "gift_card_4220746",
            },
        )
        assert got["code"] == "insufficient_gift_card_balance"
        assert await _state_hash(client) == SEED_SHA256


@needs_server
async def test_orders_change_status_once() -> None:
    """A modified, returned or exchanged order cannot be changed again the same way."""
    async with connect("tau_retail", control=True) as client:
        tools = dict(client.output_schemas)
        modify = {
            "order_id": "#W6247578",
            "item_ids": ["3799046073"],
            "new_item_ids": ["9612497925"],
            "payment_method_id": "credit_card_9513926",
        }
        done = await _call(client, tools, "modify_pending_order_items", modify)
        assert done["ok"]["status"] == "pending (item modified)"
        assert done["ok"]["payment_history"][-1]["transaction_type"] == "refund"  # 50.88 < 53.27
        again = await _call(client, tools, "modify_pending_order_items", modify)
        assert again["code"] == "not_pending"
        cancel = await _call(
            client, tools, "cancel_pending_order", {"order_id": "#W6247578", "reason": "no longer needed"}
        )
        assert cancel["code"] == "not_pending"
        ret = {"order_id": "#W8341134", "item_ids": ["7579176349"], "payment_method_id": "paypal_4191414"}
        assert (await _call(client, tools, "return_delivered_order_items", ret))["ok"]["status"] == "return requested"
        assert (await _call(client, tools, "return_delivered_order_items", ret))["code"] == "not_delivered"
        exchange = {**ret, "new_item_ids": ["1199058591"]}
        assert (await _call(client, tools, "exchange_delivered_order_items", exchange))["code"] == "not_delivered"


@needs_server
async def test_address_tools_take_the_argument_named_state() -> None:
    """tau-bench's address tools name an argument `state`, which bodies cannot use as a variable."""
    async with connect("tau_retail") as client:
        listed = {tool.name: tool for tool in await client.list_tools()}
        for name in ("modify_pending_order_address", "modify_user_address"):
            properties = listed[name].input_schema["properties"]
            assert "state" in properties and "state_code" not in properties
        tools = {name: tool.output_schema for name, tool in listed.items()}
        address = {
            "address1": "1 Elm St",
            "address2": "",
            "city": "Austin",
            "state": "TX",
            "country": "USA",
            "zip": "78701",
        }
        got = await _call(client, tools, "modify_user_address", {"user_id": "evelyn_gonzalez_8876", **address})
        assert got["ok"]["address"] == address


@needs_server
async def test_calculate_rounds_and_refuses_without_eval() -> None:
    async with connect("tau_retail") as client:
        tools = dict(client.output_schemas)
        cases: list[tuple[str, Any]] = [
            ("3131.1 + 4777.75 + 367.38", 8276.23),
            ("2623.69 - 1126.04", 1497.65),
            ("-2 ** 2", -4.0),
            ("2 ** -1", 0.5),
            ("7 // 2 * (1 + 1)", 6.0),
            ("10 / 3", 3.33),
        ]
        for expression, value in cases:
            assert await _call(client, tools, "calculate", {"expression": expression}) == {"ok": value}, expression
        for expression, code in [
            ("__import__('os')", "invalid_characters"),
            ("1 / 0", "invalid_expression"),
            ("(1 + 2", "invalid_expression"),
            ("1 2", "invalid_expression"),
            ("9 ** 9 ** 9", "invalid_expression"),
            ("(" * 150 + "1" + ")" * 150, "invalid_expression"),
        ]:
            got = await _call(client, tools, "calculate", {"expression": expression})
            assert got.get("code") == code, (expression, got)


# --- quirks of the original that the vectors do not show ---------------------------------------------------------
# Expected values are worked out from tau-bench's own steps (written out in each docstring), not read from our server.


@needs_server
@pytest.mark.parametrize(
    ("order_id", "item_id", "method_id", "user_id", "balance"),
    [
        # lucas_muller_4380's gift card holds the integer 9; the Gaming Mouse costs 137.32.
        ("#W3206099", "3330317167", "gift_card_2748512", "lucas_muller_4380", 9.0),
        # fatima_anderson_2157 pays with PayPal, which has no balance; the Skateboard costs 182.03.
        ("#W2974929", "3877188862", "paypal_7916550", "fatima_anderson_2157", None),
    ],
)
async def test_exchanging_a_pending_item_for_itself_matches_the_original(
    order_id: str, item_id: str, method_id: str, user_id: str, balance: float | None
) -> None:
    """modify_pending_order_items with new_item_ids == item_ids, as tau-bench runs it.

    The item is still an available variant of its product, at the price paid, so the
    difference is price - price = 0.0. The original appends a payment-history entry anyway:
    a "refund" (the difference is not > 0) of abs(0.0) = 0.0 to the given method. A gift
    card's balance becomes round(balance - 0.0, 2): for the integer 9 that is the float 9.0,
    a different JSON value (and state hash) from 9. The item is rewritten with the
    variant's own price and options (the same values), and the order becomes
    "pending (item modified)".
    """
    expected = _seed()
    order = expected["orders"][order_id]
    seed_order = copy.deepcopy(order)
    order["status"] = "pending (item modified)"
    order["payment_history"].append({"transaction_type": "refund", "amount": 0.0, "payment_method_id": method_id})
    if balance is not None:
        expected["users"][user_id]["payment_methods"][method_id]["balance"] = balance
    async with connect("tau_retail", control=True) as client:
        tools = dict(client.output_schemas)
        arguments = {
            "order_id": order_id,
            "item_ids": [item_id],
            "new_item_ids": [item_id],
            "payment_method_id": method_id,
        }
        got = await _call(client, tools, "modify_pending_order_items", arguments)
        assert _canonical(got) == _canonical({"ok": order})
        assert order["items"] == seed_order["items"]
        user = await _call(client, tools, "get_user_details", {"user_id": user_id})
        assert _canonical(user["ok"]["payment_methods"]) == _canonical(expected["users"][user_id]["payment_methods"])
        assert await _state_hash(client) == hashlib.sha256(_canonical(expected).encode("utf-8")).hexdigest()
