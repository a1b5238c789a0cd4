"""Behaviour of a generated server through a real MCP client, in memory."""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from mcpfactory.runtime import (
    CONTROL_CLOSE,
    CONTROL_INVARIANTS,
    CONTROL_RESET,
    CONTROL_SECRET_META_KEY,
    CONTROL_SNAPSHOT,
    CONTROL_STATE_HASH,
    ERROR_META_KEY,
    FAULT_META_KEY,
    NEW_SESSION,
    REFS_META_KEY,
    SESSION_META_KEY,
)
from tests.mcpfactory.specs import LIBRARY


@pytest.fixture
def library(compile_package: Any) -> Any:
    return compile_package(LIBRARY, "library_env")


def _text(result: Any) -> str:
    return "".join(block.text for block in result.content)


async def _control(client: Client, name: str, arguments: dict[str, Any] | None = None) -> Any:
    result = await client.call_tool(name, arguments or {})
    assert not result.is_error, _text(result)
    return json.loads(_text(result))


async def test_tools_are_listed_with_schemas_and_annotations(library: Any) -> None:
    async with Client(library.build(), mode="legacy") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert list(tools) == [
        "find_book",
        "count_books",
        "borrow_book",
        "add_book",
        "break_book",
        "lend_and_break",
        "not_json",
        "crash",
        "sneaky_write",
        "roll",
    ]
    borrow = tools["borrow_book"]
    assert borrow.input_schema == {
        "type": "object",
        "properties": {
            "member_id": {"type": "string"},
            "book_id": {"type": "string"},
            "days": {"type": "integer", "default": 14, "description": "Loan length in days."},
        },
        "required": ["member_id", "book_id"],
        "additionalProperties": False,
    }
    assert borrow.meta == {REFS_META_KEY: {"member_id": "members", "book_id": "books"}}
    assert borrow.annotations is not None
    assert (borrow.annotations.read_only_hint, borrow.annotations.open_world_hint) == (False, False)
    assert tools["find_book"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert tools["count_books"].input_schema["properties"]["genre"] == {
        "enum": ["fiction", "science", "history"],
        "type": "string",
    }
    assert tools["count_books"].output_schema == {
        "type": "object",
        "properties": {"result": {"type": "integer"}},
        "required": ["result"],
    }


async def test_success_returns_structured_and_text_content(library: Any) -> None:
    async with Client(library.build(), mode="legacy") as client:
        found = await client.call_tool("find_book", {"title": "Dune"})
        counted = await client.call_tool("count_books", {"genre": "science"})
    assert found.structured_content == {"book_id": "b1", "title": "Dune", "genre": "fiction", "copies": 2}
    assert json.loads(_text(found)) == found.structured_content
    assert counted.structured_content == {"result": 1}
    assert _text(counted) == "1"


async def test_domain_error_becomes_error_result_with_its_code(library: Any) -> None:
    async with Client(library.build(), mode="legacy") as client:
        result = await client.call_tool("find_book", {"title": "Emma"})
    assert result.is_error
    assert _text(result) == "No book titled Emma."
    assert result.meta == {ERROR_META_KEY: {"code": "not_found"}}


async def test_invalid_arguments_name_each_bad_field(library: Any) -> None:
    async with Client(library.build(), mode="legacy") as client:
        result = await client.call_tool("borrow_book", {"member_id": 7, "days": "x", "extra": 1})
    assert result.is_error
    assert result.meta == {
        ERROR_META_KEY: {"code": "invalid_arguments", "fields": ["member_id", "book_id", "days", "extra"]}
    }


async def test_unknown_tool_is_a_protocol_error(library: Any) -> None:
    async with Client(library.build(), mode="legacy") as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("no_such_tool", {})
    assert (caught.value.error.code, caught.value.error.message) == (-32602, "Unknown tool: no_such_tool")


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("crash", {}),
        ("break_book", {"book_id": "b1"}),
        ("sneaky_write", {}),
        ("lend_and_break", {"book_id": "b1"}),
        ("not_json", {}),
    ],
    ids=["exception", "record-breaks-its-type", "read-tool-writes", "second-collection-breaks", "result-not-json"],
)
async def test_body_bug_is_masked_flagged_and_rolled_back(
    library: Any, tool: str, arguments: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with Client(library.build(control=True), mode="legacy") as client:
        before = await _control(client, CONTROL_STATE_HASH)
        result = await client.call_tool(tool, arguments)
        after = await _control(client, CONTROL_STATE_HASH)
        still_serving = await client.call_tool("find_book", {"title": "Dune"})
    assert result.is_error
    fault = result.meta[FAULT_META_KEY]  # type: ignore[index]
    assert fault["kind"] == "env_fault"
    assert fault["tool"] == tool
    assert _text(result) == f"Internal error in the environment (fault {fault['id']})."
    assert "Traceback" in caplog.text
    assert before == after
    assert not still_serving.is_error


async def test_a_refused_call_keeps_none_of_its_writes(library: Any) -> None:
    # borrow_book appends the loan before it finds the book unavailable: the append must not survive.
    async with Client(library.build(control=True), mode="legacy") as client:
        refused = await client.call_tool("borrow_book", {"member_id": "m1", "book_id": "b2"})
        changes = await _control(client, CONTROL_SNAPSHOT, {"scope": "changes"})
    assert refused.is_error
    assert changes == {"state": {"members": {}, "books": {}}}


async def test_writes_persist_within_a_session_and_not_across(library: Any) -> None:
    server = library.build(control=True)
    async with Client(server, mode="legacy") as first:
        await first.call_tool("borrow_book", {"member_id": "m1", "book_id": "b1"})
        second_loan = await first.call_tool("borrow_book", {"member_id": "m1", "book_id": "b1"})
        async with Client(server, mode="legacy") as second:
            other = await second.call_tool("find_book", {"title": "Dune"})
    assert second_loan.structured_content["loans"] == ["b1", "b1"]  # type: ignore[index]
    assert other.structured_content["copies"] == 2  # type: ignore[index]


async def test_a_session_key_the_server_issued_keeps_state_for_sessionless_clients(library: Any) -> None:
    server = library.build()
    async with Client(server) as client:  # 2026-era: no connection-level session
        opened = await client.call_tool(
            "borrow_book", {"member_id": "m1", "book_id": "b1"}, meta={SESSION_META_KEY: NEW_SESSION}
        )
        key = {SESSION_META_KEY: opened.meta[SESSION_META_KEY]}  # type: ignore[index]
        kept = await client.call_tool("find_book", {"title": "Dune"}, meta=key)
        fresh = await client.call_tool("find_book", {"title": "Dune"})
    assert kept.structured_content["copies"] == 1  # type: ignore[index]
    assert fresh.structured_content["copies"] == 2  # type: ignore[index]


async def test_a_key_the_server_did_not_issue_reaches_nothing(library: Any) -> None:
    server = library.build()
    async with Client(server) as client:
        opened = await client.call_tool("find_book", {"title": "Dune"}, meta={SESSION_META_KEY: NEW_SESSION})
        issued = str(opened.meta[SESSION_META_KEY])  # type: ignore[index]
        token, _, signature = issued.rpartition(".")
        forged = [f"{token}.{'0' * len(signature)}", "s1", f"x{issued}", token]
        refused = [
            await client.call_tool("borrow_book", {"member_id": "m1", "book_id": "b1"}, meta={SESSION_META_KEY: key})
            for key in forged
        ]
        after = await client.call_tool("find_book", {"title": "Dune"}, meta={SESSION_META_KEY: issued})
    assert [(r.is_error, (r.meta or {})[ERROR_META_KEY]) for r in refused] == [(True, {"code": "bad_session"})] * 4
    assert after.structured_content["copies"] == 2  # type: ignore[index]


async def test_a_sessionless_write_is_refused_with_directions_never_lost(library: Any) -> None:
    async with Client(library.build()) as client:  # 2026-era, no key: nothing would keep the write
        write = await client.call_tool("borrow_book", {"member_id": "m1", "book_id": "b1"})
        read = await client.call_tool("find_book", {"title": "Dune"})
    assert (write.is_error, (write.meta or {})[ERROR_META_KEY]) == (True, {"code": "no_session"})
    assert NEW_SESSION in write.content[0].text  # type: ignore[union-attr]
    assert not read.is_error


async def test_control_plane_is_invisible_without_control(library: Any) -> None:
    async with Client(library.build(), mode="legacy") as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        with pytest.raises(MCPError) as caught:
            await client.call_tool(CONTROL_STATE_HASH, {})
    assert not any(name.startswith("_control") for name in names)
    assert caught.value.error.code == -32602


async def test_control_plane_is_hidden_from_the_listing_even_with_control(library: Any) -> None:
    async with Client(library.build(control=True), mode="legacy") as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    assert not any(name.startswith("_control") for name in names)


async def test_a_control_call_without_the_secret_looks_like_an_unknown_tool(library: Any) -> None:
    async with Client(library.build(control=True, control_secret="s3cret"), mode="legacy") as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool(CONTROL_STATE_HASH, {})
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("no_such_tool", {})
        allowed = await client.call_tool(CONTROL_STATE_HASH, {}, meta={CONTROL_SECRET_META_KEY: "s3cret"})
    assert refused.value.error.code == unknown.value.error.code == -32602
    assert refused.value.error.message == f"Unknown tool: {CONTROL_STATE_HASH}"
    assert not allowed.is_error


async def test_reset_snapshot_and_hash_round_trip(library: Any) -> None:
    async with Client(library.build(control=True), mode="legacy") as client:
        seed_hash = (await _control(client, CONTROL_STATE_HASH))["state_sha256"]
        await client.call_tool("add_book", {"title": "Emma", "genre": "fiction"})
        full = (await _control(client, CONTROL_SNAPSHOT))["state"]
        changed_hash = (await _control(client, CONTROL_STATE_HASH))["state_sha256"]
        assert await _control(client, CONTROL_RESET) == {"reset": True}
        assert (await _control(client, CONTROL_RESET, {"hash": True}))["state_sha256"] == seed_hash
        assert (await _control(client, CONTROL_RESET, {"state": full, "hash": True}))["state_sha256"] == changed_hash
        patch = {"books": {"b1": None}}
        patched = await _control(client, CONTROL_RESET, {"patch": patch, "hash": True})
        books = (await _control(client, CONTROL_SNAPSHOT))["state"]["books"]
    assert set(full["books"]) == {"b1", "b2", "b3"}
    assert patched["state_sha256"] not in (seed_hash, changed_hash)
    assert set(books) == {"b2"}


async def test_reset_rejects_a_patch_that_breaks_a_record_type(library: Any) -> None:
    async with Client(library.build(control=True), mode="legacy") as client:
        result = await client.call_tool(CONTROL_RESET, {"patch": {"books": {"b1": {"book_id": "b1"}}}})
    assert result.is_error


async def test_invariants_are_reported_by_the_control_plane(library: Any) -> None:
    broken = {"books": {"b1": {"book_id": "b1", "title": "Dune", "genre": "fiction", "copies": -1}}}
    async with Client(library.build(control=True), mode="legacy") as client:
        assert (await _control(client, CONTROL_INVARIANTS)) == {"violations": []}
        await _control(client, CONTROL_RESET, {"patch": broken})
        report = await _control(client, CONTROL_INVARIANTS)
    assert report == {
        "violations": [{"name": "copies_never_negative", "message": "A book has a negative number of copies."}]
    }


async def test_session_random_generator_is_seeded_per_session(library: Any) -> None:
    server = library.build(control=True)

    async def rolls() -> list[int]:
        async with Client(server, mode="legacy") as client:
            return [(await client.call_tool("roll", {})).structured_content["result"] for _ in range(5)]  # type: ignore[index]

    first, second = await rolls(), await rolls()
    async with Client(server, mode="legacy") as client:
        await _control(client, CONTROL_RESET, {"seed": 7})
        reseeded = [(await client.call_tool("roll", {})).structured_content["result"] for _ in range(5)]  # type: ignore[index]
    assert first == second
    assert reseeded != first


async def test_thousands_of_sessions_stay_isolated(library: Any) -> None:
    server = library.build()
    results: dict[int, Any] = {}

    async def one(index: int) -> None:
        async with Client(server) as client:
            opened = await client.call_tool("count_books", {"genre": "history"}, meta={SESSION_META_KEY: NEW_SESSION})
            key = {SESSION_META_KEY: opened.meta[SESSION_META_KEY]}  # type: ignore[index]
            for _ in range(index % 3):
                await client.call_tool("add_book", {"title": f"T{index}", "genre": "history"}, meta=key)
            results[index] = (await client.call_tool("count_books", {"genre": "history"}, meta=key)).structured_content

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for index in range(2000):
                group.start_soon(one, index)
    assert all(results[i] == {"result": i % 3} for i in range(2000))


ALIASED = """\
name: aliased
description: A parameter named like a reserved word.
collections:
  places:
    record: Place
    key: place_id
    fields: {place_id: str, state: str}
    seed: [{place_id: p1, state: NY}]
tools:
  move:
    description: Move a place to another state.
    effect: write
    params:
      place_id: ref[places]
      state_code: {type: str, alias: state, description: Two-letter state.}
    returns: Place
    body: |
      place = state.places.edit(place_id)
      place["state"] = state_code
      return place
    examples:
      - args: {place_id: p1, state: CA}
        returns: {place_id: p1, state: CA}
"""


async def test_aliased_parameter_keeps_its_wire_name(compile_package: Any) -> None:
    module = compile_package(ALIASED, "aliased_env")
    async with Client(module.build(), mode="legacy") as client:
        tool = (await client.list_tools()).tools[0]
        moved = await client.call_tool("move", {"place_id": "p1", "state": "CA"})
        by_variable = await client.call_tool("move", {"place_id": "p1", "state_code": "CA"})
    assert list(tool.input_schema["properties"]) == ["place_id", "state"]
    assert moved.structured_content == {"place_id": "p1", "state": "CA"}
    assert by_variable.is_error


def test_fast_state_hash_equals_the_hash_of_the_snapshot(library: Any) -> None:
    from mcpfactory.runtime import state_sha256

    env = library.env
    session = env.new_session()
    assert env.state_sha256(session) == state_sha256(session.snapshot())
    env.call(session, "add_book", {"title": "Émile", "genre": "fiction"})
    env.call(session, "borrow_book", {"member_id": "m2", "book_id": "b1"})
    patched = env.new_session(patch={"books": {"b2": None}})
    assert env.state_sha256(session) == state_sha256(session.snapshot())
    assert env.state_sha256(patched) == state_sha256(patched.snapshot())
    assert env.state_sha256(session) != env.state_sha256(patched)


async def test_closing_a_session_frees_it_and_its_key_stops_working(library: Any) -> None:
    server = library.build(control=True)
    async with Client(server) as client:
        opened = await client.call_tool(
            "add_book", {"title": "Emma", "genre": "fiction"}, meta={SESSION_META_KEY: NEW_SESSION}
        )
        key = {SESSION_META_KEY: opened.meta[SESSION_META_KEY]}  # type: ignore[index]
        before = await client.call_tool("count_books", {"genre": "fiction"}, meta=key)
        await client.session.send_request(
            types.CallToolRequest(params=types.CallToolRequestParams(name=CONTROL_CLOSE, arguments={}, _meta=key)),
            types.CallToolResult,
        )
        after = await client.call_tool("count_books", {"genre": "fiction"}, meta=key)
    assert before.structured_content == {"result": 2}
    assert (after.is_error, (after.meta or {})[ERROR_META_KEY]) == (True, {"code": "expired_session"})


NUMBERS = """\
name: numbers
description: JSON numbers keep their kind.
collections:
  amounts:
    record: Amount
    key: amount_id
    fields: {amount_id: str, value: float}
    seed: [{amount_id: a1, value: 150}]
tools:
  record_amount:
    description: Store an amount and return it.
    effect: write
    params:
      value: float
    returns: Amount
    body: |
      state.amounts["a2"] = {"amount_id": "a2", "value": value}
      return state.amounts["a2"]
    examples:
      - args: {value: 150}
        returns: {amount_id: a2, value: 150}
"""


async def test_an_integer_given_for_a_float_stays_an_integer(compile_package: Any) -> None:
    module = compile_package(NUMBERS, "numbers_env")
    async with Client(module.build(), mode="legacy") as client:
        whole = await client.call_tool("record_amount", {"value": 150})
        fraction = await client.call_tool("record_amount", {"value": 2.5})
        refused = await client.call_tool("record_amount", {"value": True})
    assert _text(whole) == '{"amount_id": "a2", "value": 150}'
    assert fraction.structured_content == {"amount_id": "a2", "value": 2.5}
    assert refused.is_error


HELPERS = """\
name: shop
description: Tools that share a helper.
collections:
  users:
    record: User
    key: user_id
    fields: {user_id: str, role: "Literal['admin', 'viewer']", credit: int}
    seed: [{user_id: u1, role: admin, credit: 5}, {user_id: u2, role: viewer, credit: 0}]
helpers:
  admin:
    description: The user, if they are an admin.
    params: {user_id: str}
    returns: User
    errors:
      not_admin: "{user_id} is not an admin."
    body: |
      user = state.users.get(user_id)
      if user is None or user["role"] != "admin":
          raise ToolError("not_admin", user_id=user_id)
      return user
tools:
  credit_of:
    description: An admin's credit.
    effect: read
    params: {user_id: str}
    returns: int
    body: |
      return admin(state, user_id)["credit"]
    examples:
      - args: {user_id: u1}
        returns: 5
      - args: {user_id: u2}
        error: not_admin
  grant:
    description: Give an admin one more credit.
    effect: write
    params: {user_id: str}
    returns: int
    body: |
      admin(state, user_id)
      user = state.users.edit(user_id)
      user["credit"] += 1
      return user["credit"]
    examples:
      - args: {user_id: u1}
        returns: 6
"""


async def test_helpers_are_shared_and_their_errors_belong_to_every_caller(compile_package: Any) -> None:
    module = compile_package(HELPERS, "helpers_env")
    async with Client(module.build(), mode="legacy") as client:
        read = await client.call_tool("credit_of", {"user_id": "u2"})
        write = await client.call_tool("grant", {"user_id": "u2"})
        granted = await client.call_tool("grant", {"user_id": "u1"})
    assert (read.is_error, _text(read), read.meta) == (
        True,
        "u2 is not an admin.",
        {ERROR_META_KEY: {"code": "not_admin"}},
    )
    assert (write.is_error, write.meta) == (True, {ERROR_META_KEY: {"code": "not_admin"}})
    assert granted.structured_content == {"result": 6}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  admin:\n",
            "  grant:\n",
            "shop/spec.yaml:10:3: helpers.grant: helper name 'grant' is taken: it is tool 'grant' (choose another name)\n"
            "shop/spec.yaml:28:14: tools.credit_of.body: unknown name 'admin' (did you mean 'min'?)\n"
            "shop/spec.yaml:33:16: tools.credit_of.examples.1.error: unknown error code 'not_admin'\n"
            "shop/spec.yaml:40:7: tools.grant.body: unknown name 'admin' (did you mean 'min'?)",
        ),
        (
            "      return user\n",
            "      return user if rng.random() < 2 else user\n",
            "shop/spec.yaml:16:11: helpers.admin.body: helpers cannot use rng (draw the value in the tool and pass it in)",
        ),
        (
            "    params: {user_id: str}\n    returns: int\n    body: |\n      admin(",
            "    params: {user_id: str}\n    returns: int\n    errors: {not_admin: 'Nope.'}\n    body: |\n      admin(",
            "shop/spec.yaml:39:25: tools.grant.errors.not_admin: error 'not_admin' has another message in helper "
            "'admin' (give the two errors different codes, or the same message)",
        ),
    ],
    ids=["name-taken", "uses-rng", "conflicting-message"],
)
def test_helper_mistakes_are_located(
    old: str, new: str, expected: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcpfactory.errors import SpecError
    from mcpfactory.spec import load_spec

    assert old in HELPERS
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "spec.yaml").write_text(HELPERS.replace(old, new, 1))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as caught:
        load_spec("shop/spec.yaml")
    assert str(caught.value) == expected
