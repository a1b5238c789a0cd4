"""OpenEnv: serve any catalog environment as an OpenEnv environment (openenv-core's `Environment` and `create_app`).

OpenEnv's contract (openenv-core 0.3): a server-side `Environment` with
`reset(seed, episode_id, **kwargs) -> Observation`, `step(action) ->
Observation` (its `done` and `reward`) and a `state`; `create_app(factory,
ActionClass, ObservationClass)` serves it over HTTP and WebSocket (`/ws`,
one environment instance per session); an `EnvClient` subclass talks to it.

Here an action is the assistant's turn in OpenAI format (`content` and/or
`tool_calls`, arguments as a JSON string or an object); an observation
carries the messages the turn led to (tool results, the user's reply) and,
on reset, the opening conversation and the tools. `reset(task=...)` picks the
task (default: by `seed` over the environment's tasks); the reward on `done`
is the one judge's, with its components and the termination in the
observation.

```bash
uvicorn --factory harness.adapters.openenv:app_from_environ   # MCPFACTORY_ENV=todo
```

```python
async with MCPFactoryEnv(base_url="http://127.0.0.1:8000") as client:
    result = await client.reset(task="todo-0001")
    result = await client.step(AssistantAction(tool_calls=[{"function": {"name": "list_projects", "arguments": {}}}]))
```
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any

from openenv.core.client_types import StepResult as OpenEnvStepResult
from openenv.core.env_client import EnvClient
from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, EnvironmentMetadata, Observation, State
from pydantic import Field

from harness.env import EpisodeConfig
from harness.gym import BlockingEpisode, BlockingGym

__all__ = [
    "AssistantAction",
    "MCPFactoryEnv",
    "MCPFactoryEnvironment",
    "MCPFactoryObservation",
    "MCPFactoryState",
    "app_from_environ",
    "make_app",
]


class AssistantAction(Action):
    """The assistant's turn, OpenAI format: text and/or tool calls (arguments as a JSON string or an object)."""

    content: str | None = Field(default=None, description="the assistant's text")
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, description="OpenAI-format tool calls")


class MCPFactoryObservation(Observation):
    """What a turn led to: new messages; on reset the opening conversation and the tools; on done the outcome."""

    messages: list[dict[str, Any]] = Field(default_factory=list, description="messages to append (OpenAI format)")
    tools: list[dict[str, Any]] = Field(default_factory=list, description="the tools, OpenAI format (on reset)")
    termination: str | None = Field(default=None, description="why the episode ended (on done)")
    reward_components: dict[str, Any] | None = Field(default=None, description="the judge's components (on done)")


class MCPFactoryState(State):
    """Where the episode stands."""

    env: str = ""
    task: str | None = None
    turns: int = 0
    termination: str | None = None


class MCPFactoryEnvironment(Environment[AssistantAction, MCPFactoryObservation, MCPFactoryState]):
    """One catalog environment's episodes, one at a time per instance (the server makes one per session)."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, env: str, *, gym: BlockingGym | None = None, catalog: Path | None = None) -> None:
        super().__init__()
        self.env = env
        self.gym = gym or BlockingGym(catalog=catalog)
        self._owns_gym = gym is None
        self._episode: BlockingEpisode | None = None
        self._state = MCPFactoryState(env=env, episode_id=None, step_count=0)

    def reset(
        self, seed: int | None = None, episode_id: str | None = None, task: str | None = None, **kwargs: Any
    ) -> MCPFactoryObservation:
        """Open a fresh episode of `task` (default: the `seed`-th task, cyclically); return the opening."""
        self._close_episode()
        tasks = self.gym.tasks(self.env)
        task_id = task if task is not None else tasks[(seed or 0) % len(tasks)].id
        self._episode = self.gym.open(self.env, task_id, seed=seed or 0)
        self._state = MCPFactoryState(
            env=self.env, task=task_id, episode_id=episode_id or uuid.uuid4().hex, step_count=0
        )
        return MCPFactoryObservation(
            messages=self._episode.messages, tools=self._episode.tools, done=False, reward=None
        )

    def step(self, action: AssistantAction, timeout_s: float | None = None, **kwargs: Any) -> MCPFactoryObservation:
        """Take one assistant turn; return the messages it led to, and on `done` the reward."""
        if self._episode is None:
            raise RuntimeError("call reset() before step()")
        self._state.step_count += 1
        if self._episode.done:
            return self._observation([], True)
        message = {"role": "assistant", "content": action.content, "tool_calls": action.tool_calls}
        result = self._episode.step(message)
        return self._observation([dict(m) for m in result.messages], result.done)

    def _observation(self, messages: list[dict[str, Any]], done: bool) -> MCPFactoryObservation:
        assert self._episode is not None
        env = self._episode.env
        self._state.turns = env.turns
        if not done:
            return MCPFactoryObservation(messages=messages, done=False, reward=None)
        self._state.termination = str(env.termination)
        return MCPFactoryObservation(
            messages=messages,
            done=True,
            reward=self._episode.reward if self._episode.reward is not None else 0.0,
            termination=str(env.termination),
            reward_components=dict(env.reward.components) if env.reward is not None and not env.fault else None,
            metadata={"fault": env.fault, "judge_failures": list(env.reward.failures) if env.reward else None},
        )

    @property
    def state(self) -> MCPFactoryState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(
            name=f"mcpfactory-{self.env}",
            description=f"The mcpfactory catalog environment `{self.env}`: an MCP server with verified tasks.",
        )

    def _close_episode(self) -> None:
        if self._episode is not None:
            self._episode.close()
            self._episode = None

    def close(self) -> None:
        self._close_episode()
        if self._owns_gym:
            self.gym.close()


_APP_GYMS: dict[tuple[str | None, str], BlockingGym] = {}
_APP_LOCK = threading.Lock()


def make_app(
    env: str, *, catalog: Path | None = None, config: EpisodeConfig | None = None, max_concurrent_envs: int = 64
) -> Any:
    """The FastAPI app serving `env` (one environment per WebSocket session, all on one shared gym)."""
    with _APP_LOCK:
        key = (str(catalog) if catalog else None, env)
        gym = _APP_GYMS.get(key)
        if gym is None or gym.closed:
            gym = _APP_GYMS[key] = BlockingGym(catalog=catalog, config=config)

    def factory() -> MCPFactoryEnvironment:
        return MCPFactoryEnvironment(env, gym=gym)

    return create_app(
        factory, AssistantAction, MCPFactoryObservation, env_name=env, max_concurrent_envs=max_concurrent_envs
    )


def app_from_environ() -> Any:
    """`make_app` for `uvicorn --factory`: the environment from `MCPFACTORY_ENV`, the catalog from `MCPFACTORY_CATALOG`."""
    env = os.environ.get("MCPFACTORY_ENV")
    if not env:
        raise RuntimeError("set MCPFACTORY_ENV to a catalog environment name")
    catalog = os.environ.get("MCPFACTORY_CATALOG")
    return make_app(env, catalog=Path(catalog) if catalog else None)


class MCPFactoryEnv(EnvClient[AssistantAction, MCPFactoryObservation, MCPFactoryState]):
    """The client of a served catalog environment (WebSocket session, as every OpenEnv client)."""

    def _step_payload(self, action: AssistantAction) -> dict[str, Any]:
        return action.model_dump(exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> OpenEnvStepResult[MCPFactoryObservation]:
        observation = MCPFactoryObservation(
            **{**payload.get("observation", {}), "done": payload.get("done", False), "reward": payload.get("reward")}
        )
        return OpenEnvStepResult(observation=observation, reward=payload.get("reward"), done=payload.get("done", False))

    def _parse_state(self, payload: dict[str, Any]) -> MCPFactoryState:
        return MCPFactoryState(**payload)
