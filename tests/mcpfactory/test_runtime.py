"""The runtime's collections: copy-on-write views that behave like the dicts they stand for."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.mcpfactory.specs import LIBRARY


@pytest.fixture
def env(compile_package: Any) -> Any:
    return compile_package(LIBRARY, "library_runtime").env


def _plain(collection: Any) -> dict[str, Any]:
    return {key: collection[key] for key in collection}


def test_views_agree_with_the_snapshot_after_inserts_edits_and_deletes(env: Any) -> None:
    session = env.new_session(patch={"books": {"b2": None}})
    for title in ("Emma", "Ulysses", "Beloved"):
        assert not env.call(session, "add_book", {"title": title, "genre": "fiction"}).is_error
    assert not env.call(session, "borrow_book", {"member_id": "m1", "book_id": "b1"}).is_error
    books = session.state.books
    expected = session.snapshot()["books"]
    assert len(books) == len(expected) == 4
    assert list(books.keys()) == list(expected)
    assert list(books.values()) == list(expected.values())
    assert list(books.items()) == list(expected.items())
    assert _plain(books) == expected
    assert books["b2"]["title"] == "Emma"  # deleted by the patch, then re-created by add_book
    assert books.get("b9") is None


def test_len_counts_the_current_calls_writes(env: Any) -> None:
    session = env.new_session()
    session.writable = True
    books = session.state.books
    books["b9"] = {"book_id": "b9", "title": "New", "genre": "science", "copies": 1}
    del books["b1"]
    assert len(books) == 2
    assert sorted(books) == ["b2", "b9"]
    books._layer = None  # what a failed call's rollback does
    assert len(books) == 2 and sorted(books) == ["b1", "b2"]


def test_records_read_from_state_are_read_only_and_copies_are_writable(env: Any) -> None:
    from mcpfactory.runtime import ReadOnlyError

    session = env.new_session()
    book = session.state.books["b1"]
    with pytest.raises(ReadOnlyError):
        book["copies"] = 0
    with pytest.raises(ReadOnlyError):
        session.state.members["m2"]["loans"].append("b1")
    mutable = copy.deepcopy(book)
    mutable["copies"] = 0
    assert book["copies"] == 2 and dict(book) == {**mutable, "copies": 2}


def test_a_member_back_to_its_seed_value_holds_no_memory(env: Any) -> None:
    session = env.new_session()
    session.writable = True
    session.state.books.edit("b1")["copies"] = 5
    session.state.books._apply(session.state.books._prepare(lambda key, record: None))
    assert session.snapshot("changes")["books"] == {"b1": {**session.state.books["b1"]}}
    session.state.books.edit("b1")["copies"] = 2
    session.state.books._apply(session.state.books._prepare(lambda key, record: None))
    assert session.snapshot("changes")["books"] == {}


def test_a_member_equal_to_its_seed_value_only_in_python_is_kept(env: Any) -> None:
    # 2.0 == 2 in Python, but the JSON state (and its hash) tells them apart.
    session = env.new_session()
    seed_hash = env.state_sha256(session)
    session.writable = True
    session.state.books.edit("b1")["copies"] = 2.0
    session.state.books._apply(session.state.books._prepare(lambda key, record: None))
    assert session.snapshot("changes")["books"] == {"b1": {**session.state.books["b1"]}}
    assert repr(session.state.books["b1"]["copies"]) == "2.0"
    assert env.state_sha256(session) != seed_hash
