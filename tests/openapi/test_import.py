"""`mcpfactory import openapi`: a multi-resource document becomes a spec that passes the verifier without a model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from ruamel.yaml import YAML

from harness.testing import FakeLLM, Reply
from mcpfactory.cli import main
from mcpfactory.openapi import Imported, import_openapi, write_environment
from mcpfactory.synth import OpenAPIError, synthesize_tasks
from mcpfactory.synth._yaml import dump_yaml
from mcpfactory.verify import verify_env
from tests.openapi.conftest import PETCLINIC


def _import(path: Path = PETCLINIC, **options: Any) -> Imported:
    async def run() -> Imported:
        with anyio.fail_after(120):
            return await import_openapi(path, **options)

    return anyio.run(run)


def test_the_pet_clinic_document_becomes_an_environment_that_passes_every_check(servers_root: Path) -> None:
    folder = write_environment(_import(), servers_root)
    report = verify_env(folder, budget=120, start_bound=60)
    assert report.ok, [(c.name, c.summary, c.evidence) for c in report.failed]
    assert [c.name for c in report.checks if c.passed] == [
        "static",
        "protocol",
        "examples",
        "lifecycle",
        "fuzz",
        "determinism",
        "isolation",
    ]


def test_resources_relations_and_operations_are_mapped() -> None:
    imported = _import()
    spec = imported.spec
    assert imported.name == "pet_clinic"
    assert imported.collections == ["owners", "pets", "vets", "visits", "counters"]
    assert imported.tools == [
        "list_owners",
        "add_owner",
        "get_owner",
        "update_owner",
        "delete_owner",
        "list_owner_pets",
        "add_pet",
        "find_pets",
        "get_pet",
        "update_pet",
        "list_vets",
        "get_vet",
        "list_visits",
        "book_visit",
        "get_visit",
        "delete_visit",
        "cancel_visit",
    ]
    assert spec["collections"]["pets"]["fields"]["ownerId"] == "ref[owners]"
    assert spec["collections"]["visits"]["fields"]["vetId"] == "ref[vets]"
    assert spec["collections"]["visits"]["fields"]["reason"] == {"type": "str | None", "optional": True}
    assert spec["collections"]["vets"]["fields"]["id"] == "int"  # the document types it so
    assert spec["types"]["Address"]["fields"]["postalCode"] == {"type": "str", "optional": True}
    assert spec["types"]["PetVaccinationsItem"] == {
        "fields": {"vaccine": "str", "date": {"type": "str", "format": "date"}}
    }
    assert [i["name"] for i in spec["invariants"]] == [
        "pets_owner_id_exists",
        "visits_pet_id_exists",
        "visits_vet_id_exists",
    ]
    delete_owner = spec["tools"]["delete_owner"]
    assert delete_owner["errors"] == {
        "owner_not_found": "No owner {id}.",
        "owner_in_use": "Owner {id} is still referenced by pets.",
    }
    assert [e.get("error") for e in delete_owner["examples"]] == [None, "owner_not_found", "owner_in_use"]
    add_pet = spec["tools"]["add_pet"]
    assert add_pet["params"]["ownerId"] == "ref[owners]"
    assert add_pet["examples"][0]["returns"]["id"] == "pet-5"


def test_every_operation_is_in_the_report_with_the_tool_it_became() -> None:
    report = _import().report
    assert [(o.method, o.path, o.operationId, o.tool, o.kind) for o in report.operations] == [
        ("GET", "/owners", "listOwners", "list_owners", "list"),
        ("POST", "/owners", "addOwner", "add_owner", "create"),
        ("GET", "/owners/{ownerId}", "getOwner", "get_owner", "get"),
        ("PUT", "/owners/{ownerId}", "updateOwner", "update_owner", "update"),
        ("DELETE", "/owners/{ownerId}", "deleteOwner", "delete_owner", "delete"),
        ("GET", "/owners/{ownerId}/pets", "listOwnerPets", "list_owner_pets", "list"),
        ("POST", "/owners/{ownerId}/pets", "addPet", "add_pet", "create"),
        ("GET", "/pets", "findPets", "find_pets", "list"),
        ("GET", "/pets/{petId}", "getPet", "get_pet", "get"),
        ("PATCH", "/pets/{petId}", "updatePet", "update_pet", "update"),
        ("GET", "/vets", "listVets", "list_vets", "list"),
        ("GET", "/vets/{vetId}", "getVet", "get_vet", "get"),
        ("GET", "/visits", "listVisits", "list_visits", "list"),
        ("POST", "/visits", "bookVisit", "book_visit", "create"),
        ("GET", "/visits/{visitId}", "getVisit", "get_visit", "get"),
        ("DELETE", "/visits/{visitId}", "deleteVisit", "delete_visit", "delete"),
        ("POST", "/visits/{visitId}/cancel", "cancelVisit", "cancel_visit", "action"),
    ]
    assert report.left_out == []
    assert report.summary() == (
        "17 operation(s): 17 tool(s) (5 list, 4 get, 3 create, 2 delete, 2 update, 1 action); 0 left out"
    )


def test_a_json_document_imports_like_its_yaml_twin(tmp_path: Path) -> None:
    as_json = tmp_path / "petclinic.json"
    as_json.write_text(json.dumps(YAML(typ="safe").load(PETCLINIC.read_text())))
    assert _import(as_json).yaml == _import().yaml


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"swagger": "1.2", "paths": {"/a": {}}}, "/openapi"),
        ({"info": {"title": "x"}, "paths": {"/a": {}}}, "/openapi"),
        ({"openapi": "3.0.0", "info": {"title": "x"}, "paths": {}}, "/paths"),
        ({"openapi": "3.1.0", "info": {"title": "x"}, "paths": {"/health": {"head": {"responses": {}}}}}, "/paths"),
    ],
    ids=["swagger_1", "no_version", "no_paths", "no_operation_to_map"],
)
def test_a_document_that_cannot_be_imported_is_refused_at_its_json_pointer(
    tmp_path: Path, document: dict[str, Any], where: str
) -> None:
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document))
    with pytest.raises(OpenAPIError) as caught:
        _import(path)
    assert (caught.value.file, caught.value.where) == (path, where)


def test_tasks_can_be_synthesized_on_an_imported_environment(servers_root: Path) -> None:
    folder = write_environment(_import(), servers_root)

    async def run() -> Any:
        with anyio.fail_after(60):
            return await synthesize_tasks(folder, n=8, seed=0)

    report = anyio.run(run)
    assert len(report.tasks) == 8


def test_the_import_command_writes_the_environment_and_the_report_and_will_not_overwrite_it(
    servers_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "report.json"
    arguments = ["import", "openapi", str(PETCLINIC), "--name", "clinic", "--out-root", str(servers_root)]
    assert main([*arguments, "--report", str(report_path)]) == 0
    assert (servers_root / "clinic" / "server.py").exists()
    assert capsys.readouterr().out.splitlines() == [
        f"clinic: 17 tool(s), 5 collection(s) -> {servers_root / 'clinic'}",
        "  17 operation(s): 17 tool(s) (5 list, 4 get, 3 create, 2 delete, 2 update, 1 action); 0 left out",
    ]
    written = json.loads(report_path.read_text())
    assert written["operations"][-1] == {
        "method": "POST",
        "path": "/visits/{visitId}/cancel",
        "operationId": "cancelVisit",
        "tool": "cancel_visit",
        "reason": None,
        "kind": "action",
        "pointer": "/paths/~1visits~1{visitId}~1cancel/post",
    }
    assert main(arguments) == 1
    assert "exists" in capsys.readouterr().err
    assert main([*arguments, "--force"]) == 0


def test_synth_env_from_openapi_gives_the_model_the_skeleton_and_the_import_report(
    fake_llm: Callable[..., FakeLLM], servers_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    imported = _import(name="clinic")
    skeleton = imported.yaml
    rule = "Vets never see more than eight patients a day."
    enriched = dump_yaml({**imported.spec, "policy": f"{rule} {imported.spec['policy']}"})

    llm = fake_llm([Reply.text(f"```yaml\n{enriched}```")])
    arguments = [
        "synth", "env", "--from-openapi", str(PETCLINIC), "--name", "clinic",
        "--model", "openai/fake", "--api-base", llm.url, "--api-key", "fake",
        "--out-root", str(servers_root), "--log-dir", str(tmp_path / "log"),
        "--check", "static", "--check", "examples", "--budget", "30",
    ]  # fmt: skip
    assert main(arguments) == 0
    prompt = llm.requests[0]["messages"][1]["content"]
    assert skeleton.rstrip() in prompt
    assert imported.report.for_model() in prompt
    installed = YAML(typ="safe").load((servers_root / "clinic" / "spec.yaml").read_text())
    assert installed["policy"].startswith(rule)
    assert "clinic: passed in round 1" in capsys.readouterr().out


def test_the_spec_text_reads_back_to_the_spec() -> None:
    imported = _import()
    assert YAML(typ="safe").load(imported.yaml) == json.loads(json.dumps(imported.spec))
    assert "    body: |\n      found = " not in imported.yaml or imported.yaml.count("body: |") == len(imported.tools)
