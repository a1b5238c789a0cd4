"""Who calls and when: principals and scopes refuse calls as domain errors; a session's clock moves with its calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.client import Client

from mcpfactory.errors import SpecError
from mcpfactory.runtime import ControlError, EnvClient, parse_task
from mcpfactory.spec import load_spec
from tests.mcpfactory.golden.tracker import server as tracker
from tests.mcpfactory.specs import LIBRARY

GOLDEN = Path(__file__).parent / "golden"


async def _tracker(work: Any) -> Any:
    with anyio.fail_after(30):
        async with Client(tracker.build(control=True), mode="legacy") as client:
            return await work(EnvClient(client, "tracker"))


def _outcomes(results: list[Any]) -> list[tuple[str | None, str]]:
    return [(r.error_code, r.text) for r in results]


def test_a_tool_that_needs_scopes_refuses_an_anonymous_caller_and_one_without_the_scope() -> None:
    async def work(env: EnvClient) -> Any:
        default = [await env.call_tool("me", {}), await env.call_tool("delete_issue", {"key": ["ada", "notes", 1]})]
        await env.reset({"principal": None})
        anonymous = [await env.call_tool("me", {}), await env.call_tool("open_issue", {"repo": "r", "title": "t"})]
        await env.reset({"principal": {"login": "bo"}, "scopes": ["admin"]})
        admin = [
            await env.call_tool("me", {}),
            await env.call_tool("open_issue", {"repo": "r", "title": "t"}),
            await env.call_tool("delete_issue", {"key": ["ada", "notes", 1]}),
        ]
        return _outcomes(default), _outcomes(anonymous), _outcomes(admin), await env.snapshot("changes")

    default, anonymous, admin, changes = anyio.run(_tracker, work)
    assert default == [
        (None, json.dumps({"login": "ada", "name": "Ada"})),
        ("forbidden", "Forbidden: this call needs the scope 'admin'"),
    ]
    unauthenticated = ("unauthenticated", "Authentication required: this call needs a signed-in caller.")
    assert anonymous == [unauthenticated, unauthenticated]
    assert admin[0] == (None, json.dumps({"login": "bo", "name": "Bo"}))
    assert admin[1] == ("forbidden", "Forbidden: this call needs the scope 'repo'")
    assert admin[2][0] is None
    assert changes["issues"] == {'["ada","notes",1]': None}


def test_a_caller_the_environment_cannot_have_is_a_refused_control_call() -> None:
    async def work(env: EnvClient) -> list[str]:
        refusals = []
        for arguments in (
            {"principal": {"login": 7}},
            {"principal": {"login": "ada"}, "scopes": ["repo", "root"]},
            {"principal": None, "scopes": ["repo"]},
            {"clock": "yesterday"},
        ):
            with pytest.raises(ControlError) as refused:
                await env.reset(arguments)
            refusals.append(str(refused.value).removeprefix("tracker: _control_reset refused: Control call "))
        return refusals

    assert anyio.run(_tracker, work) == [
        "_control_reset failed: principal is not a valid caller: login: Input should be a valid string",
        "_control_reset failed: unknown scope(s) 'root' (this environment knows: repo, admin)",
        "_control_reset failed: scopes need a principal: an anonymous session holds none",
        "_control_reset failed: clock 'yesterday' is not an ISO 8601 datetime, e.g. '2024-05-15T10:00:00'",
    ]


def test_the_session_clock_moves_with_write_calls_only_when_they_succeed() -> None:
    async def work(env: EnvClient) -> Any:
        job = await env.call_tool("start_export", {})
        steps = [
            await env.call_tool("export_status", {"id": 1}),
            await env.call_tool("wait", {"seconds": 59}),
            await env.call_tool("wait", {"seconds": 7200}),  # refused: above the maximum, the clock stays
            await env.call_tool("export_status", {"id": 1}),
            await env.call_tool("wait", {"seconds": 1}),
            await env.call_tool("export_status", {"id": 1}),
        ]
        await env.reset({"clock": "2030-01-01T00:00:00"})
        later = [await env.call_tool("start_export", {}), await env.call_tool("wait", {"seconds": 0})]
        return job.text, [(r.error_code, r.text) for r in steps], [r.text for r in later]

    job, steps, later = anyio.run(_tracker, work)
    assert job == json.dumps({"id": 1, "ready_at": "2024-05-15T10:01:00"})
    assert [s[1] if s[0] is None else s[0] for s in steps] == [
        "running",
        "2024-05-15T10:00:59",
        "invalid_arguments",
        "running",
        "2024-05-15T10:01:00",
        "ready",
    ]
    assert later == [json.dumps({"id": 1, "ready_at": "2030-01-01T00:01:00"}), "2030-01-01T00:00:00"]


def test_a_read_that_moves_the_clock_and_a_step_back_are_faults(tmp_path: Path, compile_package: Any) -> None:
    text = (GOLDEN / "tracker" / "spec.yaml").read_text()
    text = text.replace(
        "      return advance(seconds=seconds).isoformat()", "      return advance(seconds=-seconds).isoformat()"
    )
    text = text.replace(
        '      return "ready" if now().isoformat() >= job["ready_at"] else "running"',
        '      advance(seconds=1)\n      return "ready"',
    )
    module = compile_package(text, name="trackerfaults")
    session = module.env.new_session()
    results = [
        module.env.call(session, "wait", {"seconds": 5}),
        module.env.call(session, "start_export", {}),
        module.env.call(session, "export_status", {"id": 1}),
    ]
    assert [bool((r.meta or {}).get("io.mcpfactory/fault")) for r in results] == [True, False, True]
    assert session.clock == module.CLOCK


def test_a_fixed_clock_and_an_environment_without_auth_refuse_what_they_do_not_have(compile_package: Any) -> None:
    module = compile_package(LIBRARY, name="libraryctx")
    refusals = []
    for arguments in ({"clock": "2024-01-01T00:00:00"}, {"principal": {"id": "x"}}):
        with pytest.raises(ValueError) as refused:
            module.env.start_as(module.env.new_session(), **arguments)
        refusals.append(str(refused.value))
    assert refusals == [
        "environment library has a fixed clock (the spec's clock); declare `time: session` to set it",
        "environment library declares no auth, so a session has no principal or scopes",
    ]


def test_a_task_may_say_who_calls_and_when() -> None:
    task = parse_task(
        {
            "id": "t1",
            "env": "tracker",
            "instruction": "Delete issue 1 of notes.",
            "initial_state": {
                "patch": {"users": {}},
                "principal": {"login": "bo"},
                "scopes": ["admin"],
                "clock": "2024-06-01T09:00:00",
            },
            "solution": [{"tool": "delete_issue", "arguments": {"key": ["ada", "notes", 1]}}],
            "judge": {},
        }
    )
    assert task.initial_state == {
        "patch": {"users": {}},
        "principal": {"login": "bo"},
        "scopes": ["admin"],
        "clock": "2024-06-01T09:00:00",
    }

    async def work(env: EnvClient) -> Any:
        await env.reset(task.initial_state)
        deleted = await env.call_tool("delete_issue", {"key": ["ada", "notes", 1]})
        return deleted.error_code, (await env.call_tool("wait", {"seconds": 0})).text

    assert anyio.run(_tracker, work) == (None, "2024-06-01T09:00:00")


def _issues(tmp_path: Path, text: str) -> list[tuple[int, int, str, str]]:
    folder = tmp_path / "tracker"
    folder.mkdir(exist_ok=True)
    (folder / "spec.yaml").write_text(text)
    with pytest.raises(SpecError) as caught:
        load_spec(folder / "spec.yaml")
    return [(i.line, i.col, i.path, i.message) for i in caught.value.issues]


BAD = {
    "unknown_scope": (
        "    scopes: [admin]\n",
        "    scopes: [admn]\n",
        [(116, 14, "tools.delete_issue.scopes.0", "unknown scope 'admn'")],
    ),
    "declares_an_auth_error": (
        '    errors:\n      no_issue: "No issue {key}."\n    body: |\n      if key not in state.issues:\n          raise ToolError("no_issue", key=str(key))\n      removed',
        '    errors:\n      no_issue: "No issue {key}."\n      forbidden: "No."\n    body: |\n      if key not in state.issues:\n          raise ToolError("no_issue", key=str(key))\n      removed',
        [
            (
                122,
                18,
                "tools.delete_issue.errors.forbidden",
                "error 'forbidden' is auth's own: every tool of an environment with auth has it",
            )
        ],
    ),
    "parameter_named_principal": (
        "      title: {type: str, min_length: 1}",
        "      title: {type: str, min_length: 1}\n      principal: {type: str, default: x}",
        [
            (
                100,
                18,
                "tools.open_issue.params.principal",
                "parameter name 'principal' is taken by the body's principal()",
            ),
            # ... and the body checker sees the call to it as a call to that parameter.
            (103, 16, "tools.open_issue.body", "'principal' is a parameter here, and a parameter cannot be called"),
        ],
    ),
    "default_principal_of_another_type": (
        "default: {login: ada}",
        "default: {name: ada}",
        [(7, 12, "auth.default", "the default principal is not a Caller: login: Field required")],
    ),
    "scopes_without_auth": (
        "auth:\n  principal: Caller\n  default: {login: ada}\n  scopes: [repo, admin]\n  default_scopes: [repo]\n",
        "",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_auth_that_does_not_fit_is_a_located_error(tmp_path: Path, case: str) -> None:
    old, new, expected = BAD[case]
    text = (GOLDEN / "tracker" / "spec.yaml").read_text()
    assert old in text
    issues = _issues(tmp_path, text.replace(old, new, 1))
    if expected is not None:
        assert issues == expected
        return
    # Without auth: each tool's scopes are refused, and bodies cannot call principal().
    assert [(path, message) for _, _, path, message in issues if path.endswith("scopes")] == [
        ("tools.me.scopes", "scopes need an `auth:` section (who calls, and what scopes exist)"),
        ("tools.open_issue.scopes", "scopes need an `auth:` section (who calls, and what scopes exist)"),
        ("tools.delete_issue.scopes", "scopes need an `auth:` section (who calls, and what scopes exist)"),
    ]
    assert sorted({message for _, _, path, message in issues if path.endswith("body")}) == [
        "unknown error code 'unauthenticated'",
        "unknown name 'principal'",
    ]


def test_a_spec_may_name_its_own_types_auth_and_paging(compile_package: Any) -> None:
    text = (GOLDEN / "tracker" / "spec.yaml").read_text()
    assert text.count("Caller") == 2
    text = text.replace("principal: Caller", "principal: Auth").replace(
        "  Caller:\n", "  Paging:\n    fields: {cursor: str}\n  Auth:\n", 1
    )
    module = compile_package(text, name="trackernames")
    session = module.env.new_session()
    listed = module.env.call(session, "list_issues", {"owner": "ada", "repo": "notes", "limit": 3})
    me = module.env.call(session, "me", {})
    assert [i["number"] for i in listed.structured_content["items"]] == [1, 2, 3]
    assert me.structured_content == {"login": "ada", "name": "Ada"}
