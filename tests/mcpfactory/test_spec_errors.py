"""A bad spec fails with every mistake located (file, line, column, field path) and a hint where one is likely.

Each case mutates the valid LIBRARY spec once. The expected messages are
snapshots under snapshots/spec_errors/; after an intended change, regenerate
them with `MCPFACTORY_UPDATE_SNAPSHOTS=1 pytest tests/mcpfactory/test_spec_errors.py`
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpfactory.errors import SpecError
from mcpfactory.spec import load_spec
from tests.mcpfactory.specs import LIBRARY

SNAPSHOTS = Path(__file__).parent / "snapshots" / "spec_errors"
BOOK_SEED = """    seed:
      - {book_id: b1, title: Dune, genre: fiction, copies: 2}
      - {book_id: b2, title: Cosmos, genre: science, copies: 0}
"""

# name -> (text to replace in LIBRARY, replacement)
CASES: dict[str, tuple[str, str]] = {
    "unknown_type": ("      title: str\n", "      title: strng\n"),
    "unknown_record_reference": ("    returns: Book\n    errors:", "    returns: Bok\n    errors:"),
    "duplicate_tool": ("  count_books:\n", "  find_book:\n"),
    "missing_key": ("    key: book_id\n", ""),
    "key_not_a_field": ("    key: book_id\n", "    key: isbn\n"),
    "seed_row_type": ("copies: 2}\n", "copies: two}\n"),
    "seed_duplicate_key": ("      - {book_id: b2,", "      - {book_id: b1,"),
    "seed_key_mismatch": (BOOK_SEED, "    seed:\n      b9: {book_id: b1, title: Dune, genre: fiction, copies: 2}\n"),
    "seed_file_missing": (BOOK_SEED, "    seed: data/books.json\n"),
    "example_unknown_tool": (
        "        error: unavailable\n",
        "        error: unavailable\n        before: [{tool: lend_book, args: {}}]\n",
    ),
    "example_args_type": ("      - args: {genre: fiction}\n", "      - args: {genre: poetry}\n"),
    "example_result_type": ("        returns: b3\n", "        returns: 3\n"),
    "example_unknown_error": ("        error: not_found\n", "        error: notfound\n"),
    "body_syntax_error": ("      return sum(1 for book", "      return sum(1 for book in"),
    "forbidden_import": ('      book_id = f"b{len', '      import os\n      book_id = f"b{len'),
    "forbidden_call": ("      return sum(1 for book", "      return eval('1') + sum(1 for book"),
    "dunder_access": ("      return rng.randint(1, 6)", "      return rng.__class__.__subclasses__()"),
    "wall_clock": (
        '      book_id = f"b{len',
        '      import datetime\n      stamp = datetime.datetime.now()\n      book_id = f"b{len',
    ),
    "undeclared_error_code": (
        '      raise ToolError("not_found", title=title)',
        '      raise ToolError("missing", title=title)',
    ),
    "unknown_tool_field": ("    effect: read\n    params:\n      title:", "    efect: read\n    params:\n      title:"),
    "bad_effect": (
        "Count the titles in a genre.\n    effect: read",
        "Count the titles in a genre.\n    effect: modify",
    ),
    "unknown_ref_collection": ("      member_id: ref[members]", "      member_id: ref[member]"),
    "template_attribute_access": ("titled {title}.", "titled {title.__class__}."),
    "reserved_parameter_name": ("      days: {type: int, default: 14", "      rng: {type: int, default: 14"),
    "default_of_wrong_type": ("      days: {type: int, default: 14", "      days: {type: int, default: fourteen"),
    "invalid_yaml": ("name: library\n", "name: [library\n"),
    "invariant_unknown_name": (
        "for book in state.books.values())\n    message: A book",
        "for book in stat.books.values())\n    message: A book",
    ),
    "recursive_type": (
        "      zip: {type: str, description: Five-digit postal code.}\n",
        "      zip: {type: str, description: Five-digit postal code.}\n      next: Address | None\n",
    ),
    "bad_clock": ('clock: "2024-05-15T10:00:00"', 'clock: "May 15th"'),
}


def _load_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> str:
    old, new = CASES[name]
    assert LIBRARY.count(old) >= 1, f"case {name} no longer applies to LIBRARY"
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "spec.yaml").write_text(LIBRARY.replace(old, new, 1))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as caught:
        load_spec(folder / "spec.yaml")
    assert all(issue.file == "library/spec.yaml" for issue in caught.value.issues)
    return str(caught.value) + "\n"


def test_the_unmutated_spec_loads(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(LIBRARY)
    assert load_spec(tmp_path / "spec.yaml").name == "library"


def test_there_are_at_least_fifteen_distinct_mistakes() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_spec_error_message(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = _load_error(tmp_path, monkeypatch, name)
    snapshot = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("MCPFACTORY_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(message)
    assert message == snapshot.read_text()
