"""The verifier's lifecycle check: an imported API passes, and each silent loss of behaviour fails it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcpfactory.openapi import Imported, import_openapi, write_environment
from mcpfactory.openapi._yaml import to_yaml
from mcpfactory.verify import verify_env
from mcpfactory.verify._report import CheckResult, Status
from tests.openapi.conftest import PETCLINIC

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def imported() -> Imported:
    async def run() -> Imported:
        with anyio.fail_after(120):
            return await import_openapi(PETCLINIC, name="pet_clinic")

    return anyio.run(run)


def _lifecycle(imported: Imported, root: Path, mutate: Mutation | None = None) -> CheckResult:
    """Write the imported environment (changed by `mutate`, its import report as it was) and run the check."""
    if mutate is not None:
        data = copy.deepcopy(imported.spec)
        mutate(data)
        imported = Imported(imported.name, imported.description, data, to_yaml(data), imported.report)
    folder = write_environment(imported, root)
    report = verify_env(folder / "spec.yaml", checks=["lifecycle"], budget=60, start_bound=60)
    return report.check("lifecycle")


def _edit_body(tool: str, old: str, new: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        body = data["tools"][tool]["body"]
        assert body.count(old) == 1, body
        data["tools"][tool]["body"] = body.replace(old, new)

    return mutate


def test_an_imported_document_passes_the_lifecycle_check(imported: Imported, tmp_path: Path) -> None:
    result = _lifecycle(imported, tmp_path)
    assert result.status is Status.PASSED, (result.summary, result.evidence)
    assert result.summary.startswith(
        "4 resource(s) live as documented in 33 calls: owners (create/get/list/update/delete), "
        "pets (create/get/list/update), vets (get/list), visits (create/get/list/delete)"
    )


def test_the_import_report_is_written_beside_the_spec(imported: Imported, tmp_path: Path) -> None:
    folder = write_environment(imported, tmp_path)
    assert sorted(p.name for p in folder.iterdir() if p.suffix in (".json", ".yaml")) == [
        "import-report.json",
        "spec.yaml",
    ]


def test_an_update_that_silently_drops_a_field_fails(imported: Imported, tmp_path: Path) -> None:
    dropped = _edit_body("update_owner", 'if lastName is not None:\n    updated["lastName"] = lastName\n', "")
    result = _lifecycle(imported, tmp_path, dropped)
    assert result.status is Status.FAILED
    assert result.summary == "imported resources do not behave as documented: update lost a value; update not kept"


def test_a_delete_that_does_nothing_fails(imported: Imported, tmp_path: Path) -> None:
    result = _lifecycle(imported, tmp_path, _edit_body("delete_visit", "del state.visits[visitId]\n", ""))
    assert result.status is Status.FAILED
    assert result.summary == "imported resources do not behave as documented: 3 x delete not kept"


def test_a_lost_pattern_fails(imported: Imported, tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        del data["tools"]["add_owner"]["params"]["telephone"]["pattern"]

    result = _lifecycle(imported, tmp_path, mutate)
    assert result.status is Status.FAILED
    assert result.summary == "imported resources do not behave as documented: constraint lost"
    # The record type still holds the pattern, so the write faults instead of being refused: accepted all the same.
    assert len(result.evidence) == 1
    assert result.evidence[0].split(": accepted, ")[0] == "owners: telephone = '', off its pattern '^[0-9 +-]{7,20}$'"


def test_a_lost_enum_and_a_lost_minimum_fail(imported: Imported, tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        params = data["tools"]["add_pet"]["params"]
        params["species"] = "str"
        del params["weightKg"]["minimum"]

    result = _lifecycle(imported, tmp_path, mutate)
    assert result.status is Status.FAILED
    assert result.summary == "imported resources do not behave as documented: 2 x constraint lost"


def test_a_lost_required_field_fails(imported: Imported, tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["tools"]["add_owner"]["params"]["lastName"] = {"type": "str", "default": "Unknown"}

    result = _lifecycle(imported, tmp_path, mutate)
    assert result.status is Status.FAILED
    assert result.summary == "imported resources do not behave as documented: constraint lost"


def test_a_tool_missing_from_the_spec_is_a_lost_operation(imported: Imported, tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        del data["tools"]["get_vet"]

    result = _lifecycle(imported, tmp_path, mutate)
    assert result.status is Status.FAILED
    assert result.evidence == ("GET /vets/{vetId}: import-report.json names tool get_vet, the spec has none",)


def test_a_hand_written_spec_is_not_an_imported_api() -> None:
    report = verify_env("todo", checks=["lifecycle"], budget=60, start_bound=60)
    result = report.check("lifecycle")
    assert (result.status, result.summary) == (
        Status.SKIPPED,
        "not an imported API (no import-report.json beside the spec)",
    )


def test_a_required_parameter_the_document_does_not_have_fails(imported: Imported, tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        tool = data["tools"]["add_owner"]
        tool["params"]["nickname"] = "str"
        for example in tool["examples"]:
            example["args"]["nickname"] = "Mo"

    result = _lifecycle(imported, tmp_path, mutate)
    assert result.status is Status.FAILED
    assert result.evidence == ("owners: add_owner requires 'nickname', which the document's request does not",)
