"""verifiers (0.4, `verifiers.v1`): catalog environments as a verifiers taskset plugin.

Against the real package: the environment `vf.load_environment` builds from
the plugin id, its tasks, the toolset served by a real `MCPServer` and called
through a real MCP client, and the reward `Task.score` records on a trace.
(A full verifiers rollout launches its agent program with `uv` and a model
behind an interception server, which this offline suite cannot host.)
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

vf = pytest.importorskip(
    "verifiers.v1", reason="verifiers is not installed (see docs/harness.md, train with verifiers)"
)

from mcp.client.client import Client  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402
from verifiers.v1.graph import MessageNode  # noqa: E402
from verifiers.v1.trace import AgentInfo, Trace, TraceTask  # noqa: E402

from harness.adapters.verifiers import TASKSET_ID, load_environment  # noqa: E402
from mcpfactory.runtime import catalog_tasks  # noqa: E402


def trace_of(task: Any, *turns: Any) -> Any:
    nodes = [MessageNode(message=vf.UserMessage(content=task.data.prompt))]
    for turn in turns:
        nodes.append(MessageNode(message=turn, sampled=isinstance(turn, vf.AssistantMessage), parent=len(nodes) - 1))
    return Trace(
        task=TraceTask(type=type(task).__name__, data=task.data), agent=AgentInfo(config=vf.AgentConfig()), nodes=nodes
    )


def call(call_id: str, name: str, arguments: str) -> Any:
    return vf.AssistantMessage(tool_calls=[vf.ToolCall(id=call_id, name=name, arguments=arguments)])


def test_the_plugin_id_loads_an_environment_whose_tasks_are_the_catalogs() -> None:
    env = load_environment(env="todo", task_ids=["todo-0001", "todo-0002"])
    assert (type(env).__name__, env.config.taskset.id) == ("SingleAgentEnv", TASKSET_ID)
    tasks = list(env.taskset)
    expected = [t for t in catalog_tasks("todo") if t.id in ("todo-0001", "todo-0002")]
    assert [(t.key, t.data.prompt) for t in tasks] == [(f"todo/{t.id}", t.opening) for t in expected]
    assert tasks[0].data.system_prompt.startswith("You manage one person's task list.")


async def test_the_toolset_serves_the_environments_tools_over_mcp_for_one_rollout() -> None:
    (task,) = list(load_environment(env="todo", task_ids=["todo-0001"]).taskset)
    (toolset,) = type(task).toolsets(task.config)
    with anyio.fail_after(60):
        async with toolset._exit_stack:
            await toolset.setup()
            await toolset.setup_task(task)
            server = MCPServer("todo")
            toolset.register(server)
            async with Client(server) as client:
                listed = await client.list_tools()
                assert [t.name for t in listed.tools] == [
                    "list_projects", "find_tasks", "add_task", "complete_task", "reschedule_task",
                ]  # fmt: skip
                schema = next(t.input_schema for t in listed.tools if t.name == "find_tasks")
                assert schema["properties"]["status"]["enum"] == ["open", "done", "any"]
                found = await client.call_tool("find_tasks", {"project_id": "work", "due_before": "2024-05-14"})
                assert not found.is_error and "Draft Q2 budget review" in found.content[0].text
                refused = await client.call_tool("add_task", {"project_id": "nowhere", "title": "x"})
                # The SDK's own prefix for a tool's anticipated failure, then the environment's message.
                text = "Error executing tool add_task: No project with id nowhere; use list_projects."
                assert (refused.is_error, refused.content[0].text) == (True, text)
            assert toolset.episode.env.turns == 2


async def test_the_reward_is_the_judges_on_a_replay_of_the_rollout() -> None:
    (task,) = list(load_environment(env="todo", task_ids=["todo-0001"]).taskset)
    solved = trace_of(
        task,
        call("1", "list_projects", "{}"),
        vf.ToolMessage(tool_call_id="1", content="..."),
        call("2", "find_tasks", '{"project_id": "work", "due_before": "2024-05-14"}'),
        vf.ToolMessage(tool_call_id="2", content="..."),
        vf.AssistantMessage(content="Overdue: Draft Q2 budget review; Send churn analysis to Priya."),
    )
    await task.score(solved)
    assert (solved.reward, solved.metrics) == (1.0, {"fault": 0.0, "success": 1.0})
    unanswered = trace_of(task, call("1", "list_projects", "{}"), vf.ToolMessage(tool_call_id="1", content="..."))
    await task.score(unanswered)
    assert (unanswered.reward, unanswered.info["mcpfactory"]["termination"]) == (0.0, "truncated")
