"""Imported documents keep integer and composite keys, page their lists, and act for a signed-in caller.

One small document in GitHub's shapes: issues under `/repos/{owner}/{repo}`
with integer numbers, `/user` for the caller with OAuth scopes, and jobs
with integer ids listed by cursor. Each mapping is checked by calling the
server the importer writes, and the whole environment by the verifier.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcpfactory.openapi import Imported, import_openapi, write_environment
from mcpfactory.synth._session import CallResult, import_server, open_session
from mcpfactory.verify import verify_env


def _json(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def _path_param(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema}


ISSUE = {"$ref": "#/components/schemas/Issue"}
USER = {"$ref": "#/components/schemas/User"}
JOB = {"$ref": "#/components/schemas/Job"}
STATE = {"type": "string", "enum": ["open", "closed"]}
REPO = [_path_param("owner", "string"), _path_param("repo", "string")]

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Hub", "version": "1.0"},
    "security": [{"oauth": ["repo"]}],
    "components": {
        "securitySchemes": {
            "oauth": {
                "type": "oauth2",
                "flows": {
                    "implicit": {"authorizationUrl": "https://example.com/auth", "scopes": {"repo": "", "user": ""}}
                },
            }
        },
        "schemas": {
            "Issue": {
                "type": "object",
                "required": ["number", "title", "state"],
                "properties": {
                    "number": {"type": "integer"},
                    "title": {"type": "string", "minLength": 1},
                    "state": STATE,
                },
            },
            "User": {
                "type": "object",
                "required": ["login", "name"],
                "properties": {"login": {"type": "string"}, "name": {"type": "string"}},
            },
            "Job": {
                "type": "object",
                "required": ["id", "status"],
                "properties": {"id": {"type": "integer"}, "status": {"type": "string"}},
            },
        },
    },
    "paths": {
        "/repos/{owner}/{repo}/issues": {
            "parameters": REPO,
            "get": {
                "operationId": "listIssues",
                "parameters": [
                    _query("per_page", {"type": "integer", "default": 30, "maximum": 100}),
                    _query("page", {"type": "integer"}),
                ],
                "responses": _json({"type": "array", "items": ISSUE}),
            },
            "post": {
                "operationId": "createIssue",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["title"],
                                "properties": {"title": {"type": "string", "minLength": 1}, "state": STATE},
                            }
                        }
                    },
                },
                "responses": {**_json(ISSUE, "201"), "401": {"description": "not signed in"}},
            },
        },
        "/repos/{owner}/{repo}/issues/{issue_number}": {
            "parameters": [*REPO, _path_param("issue_number", "integer")],
            "get": {"operationId": "getIssue", "responses": _json(ISSUE)},
            "delete": {
                "operationId": "deleteIssue",
                "responses": {"204": {"description": "gone"}, "403": {"description": "not allowed"}},
            },
        },
        "/user": {
            "get": {
                "operationId": "getAuthenticatedUser",
                "security": [{"oauth": ["user"]}],
                "responses": {**_json(USER), "401": {"description": "not signed in"}},
            },
            "patch": {
                "operationId": "updateAuthenticatedUser",
                "security": [{"oauth": ["user"]}],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"type": "object", "properties": {"name": {"type": "string"}}}}
                    }
                },
                "responses": _json(USER),
            },
        },
        "/jobs": {
            "get": {
                "operationId": "listJobs",
                "parameters": [_query("limit", {"type": "integer"}), _query("cursor", {"type": "string"})],
                "responses": _json({"type": "object", "properties": {"data": {"type": "array", "items": JOB}}}),
            },
            "post": {"operationId": "createJob", "responses": _json(JOB, "201")},
        },
        "/jobs/{id}": {
            "parameters": [_path_param("id", "integer")],
            "get": {"operationId": "getJob", "responses": _json(JOB)},
        },
    },
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    path = tmp_path_factory.mktemp("document") / "hub.json"
    path.write_text(json.dumps(DOCUMENT))

    async def run() -> Imported:
        with anyio.fail_after(120):
            return await import_openapi(path, name="hub")

    return anyio.run(run)


def _calls(
    tmp_path: Path,
    imported: Imported,
    calls: list[tuple[str, dict[str, Any]]],
    initial_state: dict[str, Any] | None = None,
) -> list[CallResult]:
    """Make `calls` in order on one session of the imported server, reset to `initial_state`."""
    folder = write_environment(imported, tmp_path / "servers")
    module = import_server(folder)

    async def run() -> list[CallResult]:
        with anyio.fail_after(60):
            async with open_session(module) as session:
                await session.reset(initial_state)
                return [await session.call(tool, arguments) for tool, arguments in calls]

    return anyio.run(run)


def test_an_integer_key_stays_an_integer_and_new_records_take_the_next_number(
    tmp_path: Path, imported: Imported
) -> None:
    assert imported.spec["collections"]["jobs"]["key"] == "id"
    assert imported.spec["collections"]["jobs"]["fields"]["id"] == "int"
    results = _calls(tmp_path, imported, [("create_job", {}), ("get_job", {"id": 5}), ("get_job", {"id": "5"})])
    assert results[0].value == {"id": 5, "status": "status 1"}
    assert results[1].value == {"id": 5, "status": "status 1"}
    assert results[2].code == "invalid_arguments"


def test_a_record_under_outer_path_parameters_has_a_composite_key_of_all_of_them(
    tmp_path: Path, imported: Imported
) -> None:
    assert imported.spec["collections"]["issues"]["key"] == ["owner", "repo", "number"]
    octo = {"owner": "octo", "repo": "hello"}
    results = _calls(
        tmp_path,
        imported,
        [
            ("create_issue", {**octo, "title": "Broken"}),
            ("get_issue", {**octo, "issue_number": 5}),
            ("get_issue", {"owner": "octo", "repo": "other", "issue_number": 5}),
            ("delete_issue", {**octo, "issue_number": 5}),
            ("get_issue", {**octo, "issue_number": 5}),
        ],
    )
    created = {"number": 5, "title": "Broken", "state": "open", "owner": "octo", "repo": "hello"}
    assert [r.value for r in results[:2]] == [created, created]
    assert [r.code for r in results[2:]] == ["issue_not_found", None, "issue_not_found"]


def test_a_list_with_page_and_per_page_parameters_returns_numbered_pages(tmp_path: Path, imported: Imported) -> None:
    assert imported.spec["tools"]["list_issues"]["page"] == {
        "style": "page",
        "size": 30,
        "max_size": 100,
        "params": {"limit": "per_page"},
    }
    repo = {"owner": "owner 1", "repo": "repo 1"}
    results = _calls(
        tmp_path,
        imported,
        [
            ("list_issues", {**repo, "per_page": 3}),
            ("list_issues", {**repo, "per_page": 3, "page": 2}),
            ("list_issues", {**repo, "per_page": 101}),
        ],
    )
    assert [i["number"] for i in results[0].value["items"]] == [1, 2, 3]
    assert (results[0].value["total"], results[0].value["next_page"]) == (4, 2)
    assert [i["number"] for i in results[1].value["items"]] == [4]
    assert (results[1].value["total"], results[1].value["next_page"]) == (4, None)
    assert results[2].code == "invalid_arguments"


def test_a_list_with_limit_and_cursor_parameters_returns_pages_by_cursor(tmp_path: Path, imported: Imported) -> None:
    results = _calls(tmp_path, imported, [("list_jobs", {"limit": 3})])
    page = results[0].value
    assert [j["id"] for j in page["items"]] == [1, 2, 3]
    later = _calls(tmp_path / "again", imported, [("list_jobs", {"limit": 3, "cursor": page["next_cursor"]})])
    assert later[0].value == {"items": [{"id": 4, "status": "status 4"}], "next_cursor": None}


def test_the_callers_own_path_reads_and_changes_the_record_the_principal_names(
    tmp_path: Path, imported: Imported
) -> None:
    assert imported.spec["auth"] == {
        "principal": "User",
        "default": {"login": "user-1", "name": "Luna"},
        "scopes": ["repo", "user"],
    }
    results = _calls(
        tmp_path,
        imported,
        [("update_authenticated_user", {"name": "Ada"}), ("get_authenticated_user", {})],
        {"principal": {"login": "user-2", "name": "Atlas"}},
    )
    assert [r.value for r in results] == [{"login": "user-2", "name": "Ada"}] * 2


def test_operations_that_document_401_or_403_need_the_scopes_of_their_security_requirement(
    tmp_path: Path, imported: Imported
) -> None:
    tools = imported.spec["tools"]
    assert {name: tools[name].get("scopes") for name in sorted(tools)} == {
        "create_issue": ["repo"],
        "create_job": None,
        "delete_issue": ["repo"],
        "get_authenticated_user": ["user"],
        "get_issue": None,
        "get_job": None,
        "list_issues": None,
        "list_jobs": None,
        "update_authenticated_user": ["user"],
    }
    issue = {"owner": "owner 1", "repo": "repo 1", "issue_number": 1}
    anonymous = _calls(tmp_path / "anonymous", imported, [("get_authenticated_user", {})], {"principal": None})
    limited = _calls(
        tmp_path / "limited",
        imported,
        [("delete_issue", issue), ("get_authenticated_user", {}), ("get_issue", issue)],
        {"principal": {"login": "user-1", "name": "Luna"}, "scopes": ["user"]},
    )
    assert anonymous[0].code == "unauthenticated"
    assert [r.code for r in limited] == ["forbidden", None, None]


def test_the_imported_environment_passes_every_check(tmp_path: Path, imported: Imported) -> None:
    folder = write_environment(imported, tmp_path / "servers")
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


def test_without_a_path_for_the_caller_the_principal_is_a_caller_with_an_id(tmp_path: Path) -> None:
    document = {**DOCUMENT, "paths": {p: item for p, item in DOCUMENT["paths"].items() if p != "/user"}}
    path = tmp_path / "hub.json"
    path.write_text(json.dumps(document))

    async def run() -> Imported:
        with anyio.fail_after(120):
            return await import_openapi(path, name="hub")

    spec = anyio.run(run).spec
    assert spec["auth"] == {"principal": "Caller", "default": {"id": "caller-1"}, "scopes": ["repo"]}
    assert spec["types"]["Caller"] == {"fields": {"id": {"type": "str", "description": "Who calls."}}}
    assert [name for name, tool in spec["tools"].items() if "scopes" in tool] == ["create_issue", "delete_issue"]
