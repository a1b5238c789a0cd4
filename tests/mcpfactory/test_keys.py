"""Integer and composite keys: Python values in bodies, one text form on the wire, located load errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
from mcp.client.client import Client

from mcpfactory.errors import SpecError
from mcpfactory.runtime import ControlError, EnvClient, key_from_wire, key_to_wire, state_sha256
from mcpfactory.spec import load_spec
from tests.mcpfactory.golden.tracker import server as tracker

SPEC = """\
name: shelf
description: Books on shelves.
collections:
  shelves:
    record: Shelf
    key: [room, number]
    fields:
      room: str
      number: int
      label: str
    seed:
      - {room: hall, number: 1, label: Novels}
      - {room: hall, number: 2, label: Poems}
  books:
    record: Book
    key: id
    fields:
      id: int
      title: str
      shelf: ref[shelves]
    seed:
      - {id: 7, title: Dune, shelf: ["hall", 1]}
tools:
  shelve:
    description: Put a new book on a shelf.
    effect: write
    params:
      id: int
      title: str
      shelf: ref[shelves]
    returns: Book
    errors:
      taken: "Book {id} exists."
      no_shelf: "No shelf {shelf}."
    body: |
      if id in state.books:
          raise ToolError("taken", id=id)
      if shelf not in state.shelves:
          raise ToolError("no_shelf", shelf=str(shelf))
      book: Book = {"id": id, "title": title, "shelf": shelf}
      state.books[id] = book
      return book
"""


def _write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "shelf"
    folder.mkdir(exist_ok=True)
    (folder / "spec.yaml").write_text(text)
    return folder / "spec.yaml"


def _issues(tmp_path: Path, text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(SpecError) as caught:
        load_spec(_write(tmp_path, text))
    return [(i.line, i.col, i.path, i.message) for i in caught.value.issues]


def test_keys_have_one_text_form_that_round_trips() -> None:
    assert [key_to_wire(k) for k in ("b1", 42, -7, ("octo", "hé llo", 42))] == [
        "b1",
        "42",
        "-7",
        '["octo","hé llo",42]',
    ]
    assert key_from_wire("42", "int") == 42
    assert key_from_wire('["octo","hé llo",42]', "tuple") == ("octo", "hé llo", 42)
    for text, kind in (("042", "int"), ("+4", "int"), ("x", "int"), ('["a", 1]', "tuple"), ('"a"', "tuple")):
        with pytest.raises(ValueError):
            key_from_wire(text, kind)  # type: ignore[arg-type]
    for bad in (True, 1.5, ("a",), ("a", None), ["a", 1]):
        with pytest.raises(TypeError):
            key_to_wire(bad)


async def _tracker(work: Callable[[EnvClient], Any]) -> Any:
    with anyio.fail_after(30):
        async with Client(tracker.build(control=True), mode="legacy") as client:
            return await work(EnvClient(client, "tracker"))


def test_bodies_hold_python_keys_and_the_control_plane_their_text_form() -> None:
    async def work(env: EnvClient) -> Any:
        opened = await env.call_tool("open_issue", {"repo": "notes", "title": "Hello"})
        found = await env.call_tool("get_issue", {"key": ["ada", "notes", 4]})
        job = await env.call_tool("start_export", {})
        return opened.value, found.value, job.value, await env.snapshot("changes"), await env.state_hash()

    opened, found, job, changes, digest = anyio.run(_tracker, work)
    issue = {"owner": "ada", "repo": "notes", "number": 4, "title": "Hello", "state": "open", "author": "ada"}
    assert opened == found == issue
    assert job == {"id": 1, "ready_at": "2024-05-15T10:01:00"}
    assert changes == {"users": {}, "issues": {'["ada","notes",4]': issue}, "exports": {"1": job}}
    full = {**tracker.seed(), "issues": {**tracker.seed()["issues"], '["ada","notes",4]': issue}, "exports": {"1": job}}
    assert digest == state_sha256(full)


def test_a_key_argument_is_checked_part_by_part() -> None:
    async def work(env: EnvClient) -> Any:
        return [
            (r.error_code, r.text)
            for r in [
                await env.call_tool("get_issue", {"key": ["ada", "notes", "2"]}),
                await env.call_tool("get_issue", {"key": ["ada", "notes"]}),
                await env.call_tool("get_issue", {"key": ["ada", "notes", 9]}),
                await env.call_tool("export_status", {"id": "1"}),
            ]
        ]

    assert anyio.run(_tracker, work) == [
        (
            "invalid_arguments",
            'Invalid arguments for get_issue: key.2: Input should be a valid integer (got "2")',
        ),
        ("invalid_arguments", "Invalid arguments for get_issue: key.2: Field required"),
        ("no_issue", "No issue ('ada', 'notes', 9)."),
        ("invalid_arguments", 'Invalid arguments for export_status: id: Input should be a valid integer (got "1")'),
    ]


def test_patches_and_states_write_keys_in_their_text_form() -> None:
    issue = {"owner": "bo", "repo": "x", "number": 5, "title": "T", "state": "open", "author": "bo"}

    async def work(env: EnvClient) -> Any:
        await env.reset({"patch": {"issues": {'["bo","x",5]': issue}, "exports": {"3": {"id": 3, "ready_at": "z"}}}})
        found = await env.call_tool("get_issue", {"key": ["bo", "x", 5]})
        status = await env.call_tool("export_status", {"id": 3})
        refusals = []
        for patch in (
            {"issues": {'["bo", "x", 5]': issue}},  # not the canonical form: spaces
            {"issues": {'["bo","x",6]': issue}},  # the record's fields carry another key
            {"exports": {"03": {"id": 3, "ready_at": "z"}}},
        ):
            with pytest.raises(ControlError) as refused:
                await env.reset({"patch": patch})
            refusals.append(str(refused.value).removeprefix("tracker: _control_reset refused: "))
        return found.value, status.text, refusals

    found, status, refusals = anyio.run(_tracker, work)
    assert found == issue
    assert status == "running"
    failed = "Control call _control_reset failed: "
    assert refusals == [
        failed + "issues['[\"bo\", \"x\", 5]'] has (owner, repo, number) = ('bo', 'x', 5), not its key",
        failed + "issues['[\"bo\",\"x\",6]'] has (owner, repo, number) = ('bo', 'x', 5), not its key",
        failed + "exports['03'].id is 3, not its key",
    ]


def test_composite_and_integer_keys_load_from_list_and_file_seeds(
    tmp_path: Path, compile_package: Callable[..., ModuleType]
) -> None:
    text = SPEC.replace('    seed:\n      - {id: 7, title: Dune, shelf: ["hall", 1]}\n', "    seed: data/books.json\n")
    module = compile_package(
        text, name="shelfpkg", data={"books.json": json.dumps([{"id": 7, "title": "Dune", "shelf": ["hall", 1]}])}
    )
    assert module.seed()["shelves"] == {
        '["hall",1]': {"room": "hall", "number": 1, "label": "Novels"},
        '["hall",2]': {"room": "hall", "number": 2, "label": "Poems"},
    }
    assert module.env.seed_state()["books"] == {"7": {"id": 7, "title": "Dune", "shelf": ["hall", 1]}}
    session = module.env.new_session()
    result = module.env.call(session, "shelve", {"id": 8, "title": "Emma", "shelf": ["hall", 2]})
    assert json.loads(result.content[0].text) == {"id": 8, "title": "Emma", "shelf": ["hall", 2]}
    assert session.snapshot("changes")["books"] == {"8": {"id": 8, "title": "Emma", "shelf": ["hall", 2]}}
    refused = module.env.call(session, "shelve", {"id": 9, "title": "Emma", "shelf": ["attic", 2]})
    assert (refused.content[0].text, refused.is_error) == ("No shelf ('attic', 2).", True)
    assert sorted(session.state.books) == [7, 8]
    assert list(session.state.shelves.items()) == [
        (("hall", 1), {"room": "hall", "number": 1, "label": "Novels"}),
        (("hall", 2), {"room": "hall", "number": 2, "label": "Poems"}),
    ]


BAD_KEYS = {
    "float_key": (
        "      id: int\n      title: str",
        "      id: float\n      title: str",
        [(18, 11, "collections.books.fields.id", "key field 'id' must be a str or an int (keys are JSON object keys)")],
    ),
    "composite_part_missing": (
        "key: [room, number]",
        "key: [room, floor]",
        [(6, 17, "collections.shelves.key.1", "key field 'floor' is not a field of Shelf")],
    ),
    "composite_of_one": (
        "key: [room, number]",
        "key: [room]",
        [(6, 10, "collections.shelves.key", "a composite key is two or more distinct fields")],
    ),
    "optional_part": (
        "      number: int\n",
        "      number: {type: int, optional: true}\n",
        [(9, 15, "collections.shelves.fields.number", "key field 'number' cannot be optional")],
    ),
    "list_seed_without_key_fields": (
        "      - {room: hall, number: 2, label: Poems}",
        "      - {room: hall, label: Poems}",
        [
            (13, 9, "collections.shelves.seed.1", "seed row 1 has no key fields 'room, number'"),
        ],
    ),
    "mapping_seed_key_mismatch": (
        '      - {id: 7, title: Dune, shelf: ["hall", 1]}',
        "      '8': {id: 7, title: Dune, shelf: [\"hall\", 1]}",
        [(22, 12, "collections.books.seed.8", "seed record '8' has id=7, not its key")],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_a_key_that_cannot_be_one_is_a_located_error(tmp_path: Path, case: str) -> None:
    old, new, expected = BAD_KEYS[case]
    assert old in SPEC
    assert _issues(tmp_path, SPEC.replace(old, new, 1)) == expected


def test_ref_to_a_keyed_collection_is_its_key_type_in_the_schema(
    tmp_path: Path, compile_package: Callable[..., ModuleType]
) -> None:
    module = compile_package(SPEC, name="shelfpkg2")
    schema = module.env.tools["shelve"].mcp_tool.input_schema
    assert schema["properties"]["shelf"] == {
        "maxItems": 2,
        "minItems": 2,
        "prefixItems": [{"type": "string"}, {"type": "integer"}],
        "type": "array",
    }
    assert schema["properties"]["id"] == {"type": "integer"}
