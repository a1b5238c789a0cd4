"""OpenEnv (openenv-core, pinned in the `openenv` extra): a catalog environment served by OpenEnv's own server.

The app is `openenv.core.env_server.http_server.create_app` around our
`Environment`, served by uvicorn on loopback; the client is an OpenEnv
`EnvClient` talking over OpenEnv's WebSocket protocol, one session each.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

pytest.importorskip("openenv", reason="the openenv extra is not installed: pip install 'mcpfactory[openenv]'")

import uvicorn

from harness.adapters.openenv import AssistantAction, MCPFactoryEnv, MCPFactoryEnvironment, make_app
from mcpfactory.runtime import catalog_tasks


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # The socket listens before uvicorn starts, so a client can connect at once: nothing to wait for.
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    port = listening.getsockname()[1]
    running = uvicorn.Server(uvicorn.Config(make_app("todo"), log_level="warning"))
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=30)
    listening.close()


def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"c_{name}", "type": "function", "function": {"name": name, "arguments": arguments}}


async def test_a_served_catalog_task_is_played_over_openenvs_protocol_and_judged(server: str) -> None:
    (task,) = [t for t in catalog_tasks("todo") if t.id == "todo-0001"]
    with anyio.fail_after(60):
        async with MCPFactoryEnv(base_url=server) as client:
            opened = await client.reset(task=task.id, seed=2)
            assert [m["role"] for m in opened.observation.messages] == ["system", "user"]
            assert len(opened.observation.tools) == 5 and opened.done is False
            for step in task.solution:
                result = await client.step(AssistantAction(tool_calls=[call(step.tool, dict(step.arguments))]))
                assert (result.done, [m["role"] for m in result.observation.messages]) == (False, ["tool"])
            final = await client.step(AssistantAction(content="Draft Q2 budget review; Send churn analysis to Priya."))
            assert (final.done, final.reward, final.observation.termination) == (True, 1.0, "answered")
            assert final.observation.reward_components["calls"]["matched"] == 2
            state = await client.state()
            assert (state.env, state.task, state.turns, state.termination) == ("todo", "todo-0001", 3, "answered")


async def test_two_sessions_on_one_server_are_separate_episodes(server: str) -> None:
    with anyio.fail_after(60):
        async with MCPFactoryEnv(base_url=server) as first, MCPFactoryEnv(base_url=server) as second:
            await first.reset(task="todo-0002")
            await second.reset(task="todo-0002")
            added = await first.step(
                AssistantAction(tool_calls=[call("add_task", {"project_id": "home", "title": "x"})])
            )
            assert "Error" not in added.observation.messages[0]["content"]
            found = await second.step(
                AssistantAction(tool_calls=[call("find_tasks", {"text": "x", "project_id": "home"})])
            )
            assert '"title": "x"' not in found.observation.messages[0]["content"]


def test_the_environment_picks_a_task_by_seed_and_refuses_to_step_before_reset() -> None:
    environment = MCPFactoryEnvironment("todo")
    try:
        with pytest.raises(RuntimeError):
            environment.step(AssistantAction(content="hi"))
        tasks = catalog_tasks("todo")
        observation = environment.reset(seed=len(tasks) + 1)
        assert observation.messages[-1]["content"] == tasks[1].opening
        assert (environment.state.task, environment.get_metadata().name) == (tasks[1].id, "mcpfactory-todo")
    finally:
        environment.close()
