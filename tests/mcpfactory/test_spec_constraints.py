"""Value constraints and unions of object types: loaded with located errors, enforced, stated in JSON Schema."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from mcpfactory.compiler import compile_spec
from mcpfactory.errors import SpecError, SpecIssue
from mcpfactory.spec import load_spec
from mcpfactory.synth._session import CallResult, ToolInfo, open_session
from tests.conftest import REPO

SPEC = """\
name: shelter
description: An animal shelter.
types:
  Cat:
    fields:
      kind: Literal['cat']
      lives: {type: int, minimum: 1, maximum: 9}
  Dog:
    fields:
      kind: Literal['dog']
      good: bool
  Animal:
    description: A cat or a dog.
    union: [Cat, Dog]
    discriminator: kind
collections:
  pens:
    record: Pen
    key: pen_id
    fields:
      pen_id: str
      code: {type: str, pattern: '^[A-Z]{2}-[0-9]+$', format: hostname}
      size: {type: float, exclusive_minimum: 0, maximum: 40.5, multiple_of: 0.5}
      tags: {type: "list[str]", max_items: 3}
      animal: Animal | None
    seed:
      - {pen_id: p1, code: AB-1, size: 10, tags: [], animal: {kind: cat, lives: 9}}
tools:
  put_animal:
    description: Put an animal in a pen.
    effect: write
    params:
      pen_id: ref[pens]
      animal: Animal
      note: {type: str | None, default: null, min_length: 2, max_length: 5}
    returns: Pen
    errors:
      no_pen: "No pen {pen_id}."
    body: |
      if pen_id not in state.pens:
          raise ToolError("no_pen", pen_id=pen_id)
      pen = state.pens.edit(pen_id)
      pen["animal"] = animal
      return pen
  resize:
    description: Change a pen's size.
    effect: write
    params:
      pen_id: ref[pens]
      size: {type: float, exclusive_minimum: 0, maximum: 40.5, multiple_of: 0.5}
      pet: Cat | Dog | None
    returns: Pen
    errors:
      no_pen: "No pen {pen_id}."
    body: |
      if pen_id not in state.pens:
          raise ToolError("no_pen", pen_id=pen_id)
      pen = state.pens.edit(pen_id)
      pen["size"] = size
      return pen
"""


def _write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "shelter"
    folder.mkdir(exist_ok=True)
    (folder / "spec.yaml").write_text(text)
    return folder / "spec.yaml"


def _issues(tmp_path: Path, text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(SpecError) as caught:
        load_spec(_write(tmp_path, text))
    return [(i.line, i.col, i.path, i.message) for i in caught.value.issues]


def _module(tmp_path: Path, compile_package: Callable[..., ModuleType]) -> ModuleType:
    return compile_package(SPEC, name="shelterpkg")


def _session(
    module: ModuleType, calls: list[tuple[str, dict[str, Any]]]
) -> tuple[dict[str, ToolInfo], list[CallResult]]:
    async def run() -> tuple[dict[str, ToolInfo], list[CallResult]]:
        with anyio.fail_after(60):
            async with open_session(module) as session:
                return session.tools, [await session.call(tool, arguments) for tool, arguments in calls]

    return anyio.run(run)


def test_constraints_and_unions_are_stated_in_the_tool_schemas(
    tmp_path: Path, compile_package: Callable[..., ModuleType]
) -> None:
    tools, _ = _session(_module(tmp_path, compile_package), [])
    put = tools["put_animal"].input_schema
    assert put["properties"]["note"] == {
        "anyOf": [{"maxLength": 5, "minLength": 2, "type": "string"}, {"type": "null"}],
        "default": None,
    }
    assert put["properties"]["animal"]["discriminator"]["propertyName"] == "kind"
    assert [branch["$ref"] for branch in put["properties"]["animal"]["oneOf"]] == ["#/$defs/Cat", "#/$defs/Dog"]
    assert put["$defs"]["Cat"]["properties"]["lives"] == {"maximum": 9, "minimum": 1, "type": "integer"}
    resize = tools["resize"].input_schema
    assert resize["properties"]["size"] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 40.5,
        "multipleOf": 0.5,
    }
    pen = tools["resize"].output_schema
    assert pen is not None
    assert pen["properties"]["code"] == {"format": "hostname", "pattern": "^[A-Z]{2}-[0-9]+$", "type": "string"}
    assert pen["properties"]["tags"] == {"items": {"type": "string"}, "maxItems": 3, "type": "array"}


def test_values_outside_the_constraints_are_refused_and_union_members_accepted(
    tmp_path: Path, compile_package: Callable[..., ModuleType]
) -> None:
    _, results = _session(
        _module(tmp_path, compile_package),
        [
            ("put_animal", {"pen_id": "p1", "animal": {"kind": "dog", "good": True}}),
            ("put_animal", {"pen_id": "p1", "animal": {"kind": "cat", "lives": 10}}),
            ("put_animal", {"pen_id": "p1", "animal": {"kind": "cow"}}),
            ("put_animal", {"pen_id": "p1", "animal": {"kind": "cat", "lives": 3}, "note": "x"}),
            ("resize", {"pen_id": "p1", "size": 0}),
            ("resize", {"pen_id": "p1", "size": 2.25}),
            ("resize", {"pen_id": "p1", "size": 40.5, "pet": {"kind": "cat", "lives": 2}}),
        ],
    )
    assert [r.code for r in results] == [
        None,
        "invalid_arguments",
        "invalid_arguments",
        "invalid_arguments",
        "invalid_arguments",
        "invalid_arguments",
        None,
    ]
    assert results[0].value["animal"] == {"kind": "dog", "good": True}
    assert results[6].value["size"] == 40.5


CASES = {
    "length_on_int": (
        "      note: {type: str | None, default: null, min_length: 2, max_length: 5}",
        "      note: {type: int | None, default: null, min_length: 2, max_length: 5}",
        [
            (35, 59, "tools.put_animal.params.note.min_length", "'min_length' applies to str values, not int | None"),
            (35, 74, "tools.put_animal.params.note.max_length", "'max_length' applies to str values, not int | None"),
        ],
    ),
    "look_ahead": (
        "pattern: '^[A-Z]{2}-[0-9]+$'",
        "pattern: '^(?=A)[A-Z]{2}$'",
        [
            (
                22,
                34,
                "collections.pens.fields.code.pattern",
                "pattern '^(?=A)[A-Z]{2}$' is not supported by the server's regex engine "
                "(no look-around or back-references)",
            )
        ],
    ),
    "min_above_max": (
        "lives: {type: int, minimum: 1, maximum: 9}",
        "lives: {type: int, minimum: 10, maximum: 9}",
        [(7, 35, "types.Cat.fields.lives.minimum", "minimum 10 is above maximum 9")],
    ),
    "seed_breaks_max_items": (
        "tags: [], animal",
        "tags: [a, b, c, d], animal",
        [
            (
                27,
                9,
                "collections.pens.seed.0",
                "seed record 'p1' does not match Pen: tags: List should have at most 3 items after validation, not 4",
            )
        ],
    ),
    "no_discriminator": (
        "      kind: Literal['dog']\n",
        "      kind: str\n",
        [(15, 20, "types.Animal.discriminator", "'Dog' needs a required field 'kind' of a Literal type")],
    ),
    "scalar_member": (
        "    union: [Cat, Dog]\n",
        "    union: [Cat, str]\n",
        [(14, 18, "types.Animal.union.1", "a union's members are object types with fields, not 'str'")],
    ),
    "scalar_union": (
        "      pet: Cat | Dog | None\n",
        "      pet: Cat | int\n",
        [
            (
                51,
                12,
                "tools.resize.params.pet",
                "only 'T | None', unions of literals and unions of named object types ('Cat | Dog') are supported",
            )
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_constraint_or_union_that_cannot_hold_is_a_located_error(tmp_path: Path, case: str) -> None:
    old, new, expected = CASES[case]
    assert old in SPEC
    issues = _issues(tmp_path, SPEC.replace(old, new))
    assert issues == expected


def test_a_spec_error_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, SPEC.replace("maximum: 9}", "maximum: 9, min_items: 1}"))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.issues == [
        SpecIssue(
            str(path),
            7,
            61,
            "types.Cat.fields.lives.min_items",
            "'min_items' applies to list[...] values, not int",
        )
    ]


def test_generated_code_with_constraints_and_unions_is_lint_clean_and_type_checks(tmp_path: Path) -> None:
    from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

    spec = _write(tmp_path, SPEC)
    compile_spec(spec)
    ruff = find_ruff_bin()
    server = spec.parent / "server.py"
    subprocess.run([ruff, "format", "--check", str(server)], check=True, cwd=REPO, capture_output=True)
    subprocess.run([ruff, "check", "--isolated", str(server)], check=True, cwd=REPO, capture_output=True)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(server)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout
