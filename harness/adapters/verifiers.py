"""verifiers (0.4, `verifiers.v1`): catalog environments as a verifiers taskset plugin, and `load_environment`.

verifiers' contract: a taskset plugin is an importable module exporting one
`Taskset` subclass in `__all__` (its id is the module path); each `Task`
carries `TaskData` (prompt, system prompt, ids), names the MCP tool servers a
rollout gets (`Task.toolsets`, a `Toolset` launched per rollout and told its
task through `setup_task`), and scores the finished `Trace` with `@vf.reward`
methods. `vf.load_environment(EnvConfig)` builds the environment a run uses
(`SingleAgentEnv` for a plain taskset).

Here the taskset yields one task per catalog task; the toolset serves the
catalog environment's tools over MCP for the rollout, each call a step of a
`harness.gym` episode (validation and errors as in a rollout); the reward
replays the trace's assistant turns on a fresh session of the task (servers
are deterministic from a task's initial state, so the replay reaches the
rollout's state) and returns the one judge's reward, with `success` and
`fault` as metrics.

```python
from harness.adapters.verifiers import load_environment

env = load_environment(env="todo")                      # a verifiers.v1 Env
# or in a verifiers run config: --env.taskset.id mcpfactory-verifiers --env.taskset.env todo
```
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import verifiers.v1 as vf
from pydantic import Field

from harness.adapters._signatures import parameters_of
from harness.conversation import AssistantTurn, ToolCall
from harness.env import Termination
from harness.gym import Gym, GymEpisode
from mcpfactory.runtime import catalog_tasks, server_module

__all__ = ["MCPFactoryTaskset", "load_environment"]

TASKSET_ID = "mcpfactory-verifiers"
"""The taskset id: verifiers imports it as the top-level module `mcpfactory_verifiers`."""


class MCPFactoryData(vf.TaskData):
    """One catalog task: the environment, the task id, the episode seed and the catalog folder."""

    env: str
    task: str
    seed: int = 0
    catalog: str | None = None


class MCPFactoryTasksetConfig(vf.TasksetConfig):
    """`env`: a catalog environment or comma-separated names; `task_ids`: only these; `catalog`: the folder."""

    env: str = "todo"
    task_ids: list[str] | None = None
    catalog: str | None = None
    seed: int = 0


class MCPFactoryToolset(vf.Toolset[vf.ToolsetConfig]):
    """The catalog environment's tools for one rollout, each call a step of the rollout's episode."""

    TOOL_PREFIX = None  # the tools keep their own names: the judge compares them with the reference's

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.episode: GymEpisode | None = None

    async def setup_task(self, task: Any) -> None:
        data = task.data
        catalog = Path(data.catalog) if data.catalog else None
        gym = await self._exit_stack.enter_async_context(Gym(catalog=catalog))
        self.episode = await self._exit_stack.enter_async_context(gym.episode(data.env, data.task, seed=data.seed))

    def register(self, mcp: Any) -> None:
        if self.episode is None:
            raise RuntimeError("the toolset serves one task: setup_task() runs first")
        for tool in self.episode.env.tools:
            mcp.add_tool(self._tool(tool.name, tool.input_schema), name=tool.name, description=tool.description)

    def _tool(self, name: str, schema: Mapping[str, Any]) -> Any:
        parameters, annotations, required = parameters_of(schema)
        properties = schema.get("properties") or {}
        for index, parameter in enumerate(parameters):
            # MCPServer derives the advertised schema from the hints; keep each parameter's description.
            description = (properties.get(parameter.name) or {}).get("description")
            if description:
                hint = Annotated.__class_getitem__((parameter.annotation, Field(description=str(description))))  # type: ignore[attr-defined]
                parameters[index] = parameter.replace(annotation=hint)
                annotations[parameter.name] = hint

        async def call(**arguments: Any) -> str:
            # Optional parameters the model left out arrive as None; the server applies its own defaults.
            sent = {k: v for k, v in arguments.items() if v is not None or k in required}
            return await self._call(name, sent)

        call.__signature__ = inspect.Signature(parameters, return_annotation=str)  # type: ignore[attr-defined]
        call.__annotations__ = {**annotations, "return": str}
        call.__name__ = name
        return call

    async def _call(self, name: str, arguments: dict[str, Any]) -> str:
        episode = self.episode
        assert episode is not None
        if episode.done:
            return f"Error: the episode is over ({episode.env.termination}); no more calls are run."
        step = await episode.step(
            AssistantTurn(tool_calls=(ToolCall.make(f"call_{episode.env.turns}", name, arguments),))
        )
        texts = [str(m["content"]) for m in step.messages if m.get("role") == "tool"]
        text = texts[0] if texts else ""
        if episode.env.calls and episode.env.calls[-1]["is_error"]:
            from mcp.server.mcpserver.exceptions import ToolError

            raise ToolError(text)  # an `isError` result carrying the environment's message, as the server sent it
        return text


async def replay(data: MCPFactoryData, turns: list[Mapping[str, Any]]) -> GymEpisode:
    """Play a rollout's assistant turns again on a fresh session of its task; return the judged episode."""
    catalog = Path(data.catalog) if data.catalog else None
    async with Gym(catalog=catalog) as gym, gym.episode(data.env, data.task, seed=data.seed) as episode:
        for turn in turns:
            if episode.done:
                break
            await episode.step(turn)
        if not episode.done:
            await episode.end(Termination.TRUNCATED, "the rollout ended without a final answer")
        return episode


def _turn(message: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls or []
        ],
    }


class MCPFactoryTask(vf.Task[MCPFactoryData]):
    """A catalog task: its tools served for the rollout, its reward the judge's on a replay of the rollout."""

    @property
    def key(self) -> str:
        return f"{self.data.env}/{self.data.task}"

    @classmethod
    def toolsets(cls, config: Any) -> list[Any]:
        return [MCPFactoryToolset(vf.ToolsetConfig())]

    @vf.reward  # type: ignore[untyped-decorator]
    async def mcpfactory(self, trace: Any) -> float:
        """The judge's reward; a fault (the environment failed, not the model) scores 0 and counts in `fault`."""
        episode = await replay(self.data, [_turn(m) for m in trace.assistant_messages])
        env = episode.env
        trace.record_metric("fault", float(env.fault))
        trace.record_metric("success", float(bool(env.reward and env.reward.success and not env.fault)))
        trace.info["mcpfactory"] = {
            "termination": str(env.termination),
            "failures": list(env.reward.failures) if env.reward else None,
        }
        return episode.reward if episode.reward is not None else 0.0


class MCPFactoryTaskset(vf.Taskset[MCPFactoryTask, MCPFactoryTasksetConfig]):
    """The catalog tasks of the configured environments."""

    def load(self) -> Iterator[MCPFactoryTask]:
        config = self.config
        root = Path(config.catalog) if config.catalog else None
        wanted = set(config.task_ids) if config.task_ids else None
        for env in [name.strip() for name in config.env.split(",") if name.strip()]:
            policy = getattr(server_module(env, root), "POLICY", None)
            for task in catalog_tasks(env, root):
                if wanted is not None and task.id not in wanted:
                    continue
                data = MCPFactoryData(
                    id=f"{env}/{task.id}",
                    name=task.id,
                    description=task.instruction,
                    prompt=task.opening,
                    system_prompt=policy if isinstance(policy, str) else None,
                    env=env,
                    task=task.id,
                    seed=config.seed,
                    catalog=config.catalog,
                )
                yield MCPFactoryTask(data, config.task)


def load_environment(env: str = "todo", **taskset: Any) -> Any:
    """A verifiers `Env` over catalog environment(s) `env` (`task_ids`, `catalog`, `seed` go to the taskset)."""
    config = vf.resolve_env_config({"taskset": {"id": TASKSET_ID, "env": env, **taskset}})
    return vf.load_environment(config)
