"""What the importer makes of the shapes real documents take, checked by calling the servers it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcpfactory.openapi import Imported, import_openapi, write_environment
from mcpfactory.synth._session import CallResult, import_server, open_session


def _document(paths: dict[str, Any], schemas: dict[str, Any] | None = None, version: str = "3.0.3") -> dict[str, Any]:
    return {
        "openapi": version,
        "info": {"title": "Shop", "version": "1.0"},
        "paths": paths,
        "components": {"schemas": schemas or {}},
    }


def _import(tmp_path: Path, document: dict[str, Any]) -> Imported:
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document))

    async def run() -> Imported:
        with anyio.fail_after(120):
            return await import_openapi(path, name="shop")

    return anyio.run(run)


def _calls(tmp_path: Path, imported: Imported, calls: list[tuple[str, dict[str, Any]]]) -> list[CallResult]:
    """Make `calls` in order on one fresh session of the imported server."""
    folder = write_environment(imported, tmp_path / "servers")
    module = import_server(folder)

    async def run() -> list[CallResult]:
        with anyio.fail_after(60):
            async with open_session(module) as session:
                await session.reset()
                return [await session.call(tool, arguments) for tool, arguments in calls]

    return anyio.run(run)


def _ok(schema_ref: str) -> dict[str, Any]:
    return {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": schema_ref}}}}}


def _many(item: dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "array", "items": item}}}}}


ORDER = {
    "type": "object",
    "required": ["id", "state", "quantity"],
    "properties": {
        "id": {"type": "string"},
        "state": {"type": "string", "enum": ["open", "closed"]},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 10},
        "note": {"type": "string", "maxLength": 20},
    },
}
ORDERS = {
    "/orders": {
        "get": {"operationId": "listOrders", "responses": _many({"$ref": "#/components/schemas/Order"})},
        "post": {
            "operationId": "createOrder",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}},
            },
            "responses": _ok("#/components/schemas/Order"),
        },
    },
    "/orders/{orderId}": {
        "parameters": [{"name": "orderId", "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": {"operationId": "getOrder", "responses": _ok("#/components/schemas/Order")},
        "patch": {
            "operationId": "updateOrder",
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
            "responses": _ok("#/components/schemas/Order"),
        },
        "delete": {"operationId": "deleteOrder", "responses": {"204": {"description": "gone"}}},
    },
}


def test_a_key_is_never_handed_out_twice_even_after_a_delete(tmp_path: Path) -> None:
    imported = _import(tmp_path, _document(ORDERS, {"Order": ORDER}))
    order = {"state": "open", "quantity": 2}
    results = _calls(
        tmp_path,
        imported,
        [("create_order", order), ("delete_order", {"orderId": "orde-5"}), ("create_order", order)],
    )
    assert [r.value["id"] for r in (results[0], results[2])] == ["orde-5", "orde-6"]


def test_enums_bounds_and_lengths_of_the_document_are_enforced(tmp_path: Path) -> None:
    imported = _import(tmp_path, _document(ORDERS, {"Order": ORDER}))
    results = _calls(
        tmp_path,
        imported,
        [
            ("update_order", {"orderId": "orde-1", "state": "banana"}),
            ("update_order", {"orderId": "orde-1", "quantity": 0}),
            ("update_order", {"orderId": "orde-1", "note": "x" * 21}),
            ("update_order", {"orderId": "orde-1", "state": "closed", "quantity": 10}),
        ],
    )
    assert [r.code for r in results] == ["invalid_arguments", "invalid_arguments", "invalid_arguments", None]
    assert (results[3].value["state"], results[3].value["quantity"]) == ("closed", 10)
    assert imported.spec["collections"]["orders"]["fields"]["quantity"] == {"type": "int", "minimum": 1, "maximum": 10}


def test_a_required_body_field_is_a_required_parameter(tmp_path: Path) -> None:
    imported = _import(tmp_path, _document(ORDERS, {"Order": ORDER}))
    params = imported.spec["tools"]["create_order"]["params"]
    assert params["state_value"] == {"type": "Literal['open', 'closed']", "alias": "state"}
    assert params["quantity"] == {"type": "int", "minimum": 1, "maximum": 10}
    assert params["note"] == {"type": "str | None", "default": None, "max_length": 20}


def test_records_in_an_envelope_with_a_key_named_by_the_path_become_one_collection(tmp_path: Path) -> None:
    schemas = {
        "Call": {"type": "object", "properties": {"sid": {"type": "string"}, "to": {"type": "string"}}},
        "CallList": {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}},
                "next_page": {"type": "string"},
            },
        },
    }
    paths = {
        "/calls": {"get": {"operationId": "listCalls", "responses": _ok("#/components/schemas/CallList")}},
        "/calls/{sid}": {
            "get": {
                "operationId": "fetchCall",
                "parameters": [{"name": "sid", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": _ok("#/components/schemas/Call"),
            }
        },
        "/calls/recent": {
            "get": {"operationId": "recentCalls", "responses": _many({"$ref": "#/components/schemas/Call"})}
        },
    }
    imported = _import(tmp_path, _document(paths, schemas))
    assert [c for c in imported.collections if c != "counters"] == ["calls"]
    assert imported.spec["collections"]["calls"]["key"] == "sid"
    assert [(o.tool, o.kind) for o in imported.report.operations] == [
        ("list_calls", "list"),
        ("fetch_call", "get"),
        ("recent_calls", "list"),
    ]


def test_a_nested_collection_without_a_link_field_gets_one_from_the_path(tmp_path: Path) -> None:
    schemas = {
        "Board": {"type": "object", "properties": {"id": {"type": "string"}, "title": {"type": "string"}}},
        "Card": {"type": "object", "properties": {"id": {"type": "string"}, "text": {"type": "string"}}},
    }
    board_id = {"name": "boardId", "in": "path", "required": True, "schema": {"type": "string"}}
    paths = {
        "/boards": {"get": {"operationId": "listBoards", "responses": _many({"$ref": "#/components/schemas/Board"})}},
        "/boards/{boardId}": {
            "get": {"operationId": "getBoard", "parameters": [board_id], "responses": _ok("#/components/schemas/Board")}
        },
        "/boards/{boardId}/cards": {
            "parameters": [board_id],
            "get": {"operationId": "listCards", "responses": _many({"$ref": "#/components/schemas/Card"})},
            "post": {
                "operationId": "addCard",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Card"}}}},
                "responses": _ok("#/components/schemas/Card"),
            },
        },
    }
    imported = _import(tmp_path, _document(paths, schemas))
    assert imported.spec["collections"]["cards"]["fields"]["boardId"] == {
        "type": "ref[boards] | None",
        "description": "The board it belongs to.",
        "optional": True,
    }
    results = _calls(
        tmp_path,
        imported,
        [("add_card", {"boardId": "boar-2", "text": "hello"}), ("list_cards", {"boardId": "boar-2"})],
    )
    assert results[0].value["boardId"] == "boar-2"
    assert results[0].value in results[1].value


def test_recursive_and_external_schemas_import_and_are_reported_at_their_pointers(tmp_path: Path) -> None:
    schemas = {
        "Node": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "owner": {"$ref": "https://example.com/schemas/user.json"},
            },
        }
    }
    paths = {
        "/nodes": {"get": {"operationId": "listNodes", "responses": _many({"$ref": "#/components/schemas/Node"})}},
        "/nodes/{id}": {"get": {"operationId": "getNode", "responses": _ok("#/components/schemas/Node")}},
    }
    imported = _import(tmp_path, _document(paths, schemas))
    assert imported.spec["collections"]["nodes"]["fields"] == {
        "id": "str",
        "children": {"type": "list[dict[str, any]]", "optional": True},
        "owner": {"type": "any", "optional": True},
    }
    assert imported.report.notes == [
        {
            "where": "#/components/schemas/Node",
            "message": "a recursive schema; the inner occurrence is read as an open object",
        },
        {
            "where": "#/components/schemas/Node/properties/owner/$ref",
            "message": "reference 'https://example.com/schemas/user.json' points outside this document; read as any value",
        },
    ]


def test_operations_without_records_become_declared_tools_and_head_is_reported(tmp_path: Path) -> None:
    status = {"type": "object", "properties": {"healthy": {"type": "boolean"}}}
    paths = {
        "/status": {
            "get": {
                "operationId": "getStatus",
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": status}}}},
            },
            "head": {"operationId": "pingStatus", "responses": {"200": {"description": "ok"}}},
        },
        "/sms": {
            "post": {
                "operationId": "sendSms",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "required": ["to"], "properties": {"to": {"type": "string"}}}
                        }
                    }
                },
                "responses": {"202": {"description": "queued"}},
            }
        },
        "/search": {
            "get": {
                "operationId": "search",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}},
                    }
                },
            }
        },
    }
    imported = _import(tmp_path, _document(paths))
    assert [(o.operationId, o.tool, o.kind, o.reason) for o in imported.report.operations] == [
        ("getStatus", "get_status", "read_one", None),
        ("pingStatus", None, None, "HEAD carries no behaviour of its own (not a tool)"),
        (
            "sendSms",
            "send_sms",
            "call",
            "records the request in the requests collection and returns a fixed sample of its response",
        ),
        (
            "search",
            "search",
            "stub",
            "a stub: returns a fixed sample of its documented response and changes nothing it describes",
        ),
    ]
    results = _calls(tmp_path, imported, [("send_sms", {"to": "+1 555"}), ("send_sms", {"to": "+2 555"})])
    assert [r.ok for r in results] == [True, True]


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_a_union_of_object_types_with_a_discriminator_is_a_discriminated_union(tmp_path: Path, version: str) -> None:
    schemas = {
        "Cat": {
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"type": "string", "enum": ["cat"]}, "lives": {"type": "integer"}},
        },
        "Dog": {
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"type": "string", "enum": ["dog"]}, "good": {"type": "boolean"}},
        },
        "Pet": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "animal": {
                    "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                    "discriminator": {"propertyName": "kind"},
                },
            },
        },
    }
    paths = {
        "/pets": {"get": {"operationId": "listPets", "responses": _many({"$ref": "#/components/schemas/Pet"})}},
        "/pets/{id}": {
            "get": {"operationId": "getPet", "responses": _ok("#/components/schemas/Pet")},
            "put": {
                "operationId": "putPet",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
                "responses": _ok("#/components/schemas/Pet"),
            },
        },
    }
    imported = _import(tmp_path, _document(paths, schemas, version))
    assert imported.spec["types"]["PetAnimal"] == {"union": ["Cat", "Dog"], "discriminator": "kind"}
    results = _calls(
        tmp_path,
        imported,
        [
            ("put_pet", {"id": "pet-1", "animal": {"kind": "dog", "good": True}}),
            ("put_pet", {"id": "pet-1", "animal": {"kind": "cow"}}),
        ],
    )
    assert results[0].value["animal"] == {"kind": "dog", "good": True}
    assert results[1].code == "invalid_arguments"
