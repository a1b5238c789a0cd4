"""SkyRL-gym (pinned in the `skyrl` extra): a catalog task as a SkyRL text environment, made through `skyrl_gym.make`."""

from __future__ import annotations

import json
from typing import Any

import pytest

skyrl_gym = pytest.importorskip("skyrl_gym", reason="the skyrl extra is not installed: pip install 'mcpfactory[skyrl]'")

from harness.adapters.skyrl import ENV_ID, parse_action, register  # noqa: E402
from mcpfactory.runtime import catalog_tasks  # noqa: E402


def tool_call(name: str, arguments: dict[str, Any]) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def test_a_catalog_task_is_played_through_skyrl_gym_and_scored_by_the_judge() -> None:
    register()
    register()  # idempotent
    (task,) = [t for t in catalog_tasks("todo") if t.id == "todo-0001"]
    env = skyrl_gym.make(ENV_ID, env_config={}, extras={"env": "todo", "task": task.id, "seed": 4})
    observation, info = env.init([])
    assert [m["role"] for m in observation] == ["system", "user"]
    assert [t["function"]["name"] for t in info["tools"]][:2] == ["list_projects", "find_tasks"]
    for step in task.solution:
        output = env.step(f"Let me look.{tool_call(step.tool, dict(step.arguments))}<|im_end|>")
        assert (output["done"], output["reward"], [m["role"] for m in output["observations"]]) == (False, 0.0, ["tool"])
    final = env.step("Overdue: Draft Q2 budget review and Send churn analysis to Priya.<|im_end|>")
    assert (final["done"], final["reward"], final["metadata"]["termination"]) == (True, 1.0, "answered")
    assert final["metadata"]["record"]["episode_id"] == "todo/todo-0001#0"
    assert env.get_metrics() == {"success": 1.0, "fault": 0.0, "calls": 2}
    env.close()


def test_malformed_tool_calls_get_an_error_back_and_the_turn_limit_ends_the_trajectory() -> None:
    register()
    env = skyrl_gym.make(ENV_ID, env_config={}, extras={"env": "todo", "task": "todo-0001", "max_turns": 2})
    env.init([])
    bad = env.step(
        '<tool_call>{"name": "find_tasks", "arguments": {status: "open"}}</tool_call><tool_call>?</tool_call>'
    )
    assert bad["done"] is False
    assert [m["content"] for m in bad["observations"]] == [
        "Error: the tool call is not JSON (Expecting property name enclosed in double quotes)",
        "Error: the tool call names no function.",
    ]
    last = env.step(tool_call("find_tasks", {"status": "sometimes"}))
    assert (last["done"], last["reward"], last["metadata"]["termination"]) == (True, 0.0, "max_turns")
    env.close()


def test_text_actions_are_read_in_the_hermes_tool_call_format() -> None:
    turn = parse_action(
        'I will check. <tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call>' + tool_call("b", {})
    )
    assert (turn.content, [(c.name, c.arguments) for c in turn.tool_calls]) == (
        "I will check.",
        [("a", {"x": 1}), ("b", {})],
    )
    (nameless,) = parse_action('<tool_call>{"arguments": {}}</tool_call>').tool_calls
    assert nameless.parse_error == "a tool call is an object with a name"
    assert parse_action("All done.<|im_end|>").content == "All done."


def test_an_environment_without_its_task_is_refused() -> None:
    register()
    with pytest.raises(ValueError):
        skyrl_gym.make(ENV_ID, env_config={}, extras={"env": "todo"})
