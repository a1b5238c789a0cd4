"""Pages of list tools: cursor, offset and page styles, typed results, deterministic cursors, located errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mcpfactory.errors import SpecError
from mcpfactory.spec import load_spec

SPEC = """\
name: paged
description: Numbers, a page at a time.
collections:
  numbers:
    record: Number_
    key: n
    fields: {n: int, even: bool}
    seed: [{n: 1, even: false}, {n: 2, even: true}, {n: 3, even: false}, {n: 4, even: true}, {n: 5, even: false}]
tools:
  by_cursor:
    description: Numbers by cursor.
    effect: read
    returns: list[Number_]
    page: {style: cursor, size: 2, max_size: 3}
    body: |
      return sorted(state.numbers.values(), key=lambda r: r["n"])
    examples:
      - args: {limit: 1}
        returns: {items: [{n: 1, even: false}], next_cursor: YXQ6MQ}
  by_offset:
    description: Numbers by offset.
    effect: read
    params: {even: bool | None}
    returns: list[Number_]
    page: {style: offset, size: 2}
    body: |
      return [r for r in state.numbers.values() if even is None or r["even"] == even]
  by_page:
    description: Numbers by page.
    effect: read
    returns: list[Number_]
    page: {style: page, size: 2, params: {page: p, limit: per_page}}
    body: |
      return list(state.numbers.values())
"""


def _module(compile_package: Callable[..., ModuleType], name: str) -> ModuleType:
    return compile_package(SPEC, name=name)


def _calls(module: ModuleType, calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str | None, Any]]:
    session = module.env.new_session()
    out = []
    for tool, arguments in calls:
        result = module.env.call(session, tool, arguments)
        code = (result.meta or {}).get("io.mcpfactory/error", {}).get("code") if result.is_error else None
        out.append((code, result.content[0].text if result.is_error else result.structured_content))
    return out


def _numbers(*ns: int) -> list[dict[str, Any]]:
    return [{"n": n, "even": n % 2 == 0} for n in ns]


def test_cursor_pages_walk_the_whole_list_and_end_with_a_null_cursor(
    compile_package: Callable[..., ModuleType],
) -> None:
    module = _module(compile_package, "pagedpkg1")
    first = _calls(module, [("by_cursor", {})])[0][1]
    second = _calls(module, [("by_cursor", {"cursor": first["next_cursor"]})])[0][1]
    third = _calls(module, [("by_cursor", {"cursor": second["next_cursor"], "limit": 3})])[0][1]
    assert [first, second, third] == [
        {"items": _numbers(1, 2), "next_cursor": "YXQ6Mg"},
        {"items": _numbers(3, 4), "next_cursor": "YXQ6NA"},
        {"items": _numbers(5), "next_cursor": None},
    ]
    assert _calls(module, [("by_cursor", {"cursor": "bogus"}), ("by_cursor", {"limit": 4})]) == [
        ("invalid_cursor", "The cursor bogus is not one this tool handed out."),
        (
            "invalid_arguments",
            "Invalid arguments for by_cursor: limit: Input should be less than or equal to 3 (got 4)",
        ),
    ]


def test_offset_and_page_styles_give_totals_and_the_next_position(
    compile_package: Callable[..., ModuleType],
) -> None:
    module = _module(compile_package, "pagedpkg2")
    assert _calls(
        module,
        [
            ("by_offset", {"even": None}),
            ("by_offset", {"even": False, "offset": 2}),
            ("by_offset", {"even": None, "offset": 9}),
            ("by_page", {"p": 3}),
            ("by_page", {"p": 1, "per_page": 4}),
            ("by_page", {"p": 0}),
        ],
    ) == [
        (None, {"items": _numbers(1, 2), "total": 5, "next_offset": 2}),
        (None, {"items": _numbers(5), "total": 3, "next_offset": None}),
        (None, {"items": [], "total": 5, "next_offset": None}),
        (None, {"items": _numbers(5), "total": 5, "next_page": None}),
        (None, {"items": _numbers(1, 2, 3, 4), "total": 5, "next_page": 2}),
        ("invalid_arguments", "Invalid arguments for by_page: p: Input should be greater than or equal to 1 (got 0)"),
    ]


def test_a_paged_tool_lists_its_page_arguments_and_a_page_as_its_output(
    compile_package: Callable[..., ModuleType],
) -> None:
    module = _module(compile_package, "pagedpkg3")
    tool = module.env.tools["by_page"].mcp_tool
    assert tool.input_schema["properties"] == {
        "p": {"default": 1, "description": "Which page to return, from 1.", "minimum": 1, "type": "integer"},
        "per_page": {
            "default": 2,
            "description": "How many items a page holds (at most 100).",
            "maximum": 100,
            "minimum": 1,
            "type": "integer",
        },
    }
    assert tool.output_schema["required"] == ["items", "total", "next_page"]
    assert tool.output_schema["properties"]["next_page"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert tool.output_schema["properties"]["items"]["items"] == {"$ref": "#/$defs/Number_"}


def _issues(tmp_path: Path, text: str) -> list[tuple[int, int, str, str]]:
    folder = tmp_path / "paged"
    folder.mkdir(exist_ok=True)
    (folder / "spec.yaml").write_text(text)
    with pytest.raises(SpecError) as caught:
        load_spec(folder / "spec.yaml")
    return [(i.line, i.col, i.path, i.message) for i in caught.value.issues]


BAD_PAGES = {
    "not_a_list": (
        "    returns: list[Number_]\n    page: {style: cursor",
        "    returns: Number_\n    page: {style: cursor",
        [
            (
                13,
                14,
                "tools.by_cursor.returns",
                "a paged tool's body returns the whole list: returns: list[...]",
            )
        ],
    ),
    "unknown_role": (
        "params: {page: p, limit: per_page}",
        "params: {cursor: p, limit: per_page}",
        [(32, 51, "tools.by_page.page.params.cursor", "'cursor' is not an argument of page-style pages")],
    ),
    "collides": (
        "page: {style: offset, size: 2}",
        "page: {style: offset, size: 2, params: {offset: even}}",
        [(25, 53, "tools.by_offset.page.params.offset", "the page's argument 'even' is also a parameter of the tool")],
    ),
    "size_above_max": (
        "size: 2, max_size: 3}",
        "size: 4, max_size: 3}",
        [(14, 33, "tools.by_cursor.page.size", "size 4 is above max_size 3")],
    ),
    "example_not_a_page": (
        "returns: {items: [{n: 1, even: false}], next_cursor: YXQ6MQ}",
        "returns: [{n: 1, even: false}]",
        [
            (
                19,
                18,
                "tools.by_cursor.examples.0.returns",
                "example result is not a page of list[Number_]: Input should be a valid dictionary",
            )
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PAGES))
def test_a_page_that_does_not_fit_its_tool_is_a_located_error(tmp_path: Path, case: str) -> None:
    old, new, expected = BAD_PAGES[case]
    assert old in SPEC
    assert _issues(tmp_path, SPEC.replace(old, new, 1)) == expected
