"""Catalog environments for any sampler: open an episode by (environment, task, seed), step it, get the reward.

`harness.env.TaskEnv` is the step-wise API; `Gym` is the convenience around
it for code that holds no endpoints: it opens each catalog environment's
server on first use (in memory by default), shares it between episodes (one
fresh session each), looks tasks up by id, and takes the assistant's turn as
an OpenAI-format message dict, whose tool-call arguments may be a JSON string
(OpenAI, vLLM) or an object (Hugging Face chat templates, TRL).

```python
async with Gym() as gym:
    async with gym.episode("todo", "add-milk", seed=3) as episode:
        messages, tools = episode.messages, episode.tools      # OpenAI chat format
        while not episode.done:
            reply = await my_sampler(messages, tools)           # {"role": "assistant", "content": ..., "tool_calls": [...]}
            step = await episode.step(reply)
            messages = episode.messages
        print(step.reward.total, step.termination)
```

`BlockingGym` is the same for synchronous callers (trainers whose environment
hooks are plain functions: TRL, SkyRL-gym, OpenEnv): it runs a `Gym` on an
event loop in a thread of its own and lends `BlockingEpisode`s.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import anyio.abc
from anyio.from_thread import BlockingPortal, start_blocking_portal

from harness.connection import Endpoint, Transport, open_endpoint
from harness.conversation import AssistantTurn, TokenData, ToolCall
from harness.env import EpisodeConfig, Observation, StepResult, TaskEnv, Termination
from harness.errors import HarnessError
from harness.records import episode_id
from harness.reward import ReferenceCache
from harness.user import UserSimulator
from mcpfactory.runtime import Task, catalog_tasks

__all__ = ["BlockingEpisode", "BlockingGym", "Gym", "GymEpisode", "assistant_turn", "decoded_messages"]

T = TypeVar("T")


def assistant_turn(message: Mapping[str, Any] | AssistantTurn) -> AssistantTurn:
    """Read an OpenAI-format assistant message (arguments as a JSON string or an object) as an `AssistantTurn`.

    A message that is not a mapping with `content` and/or `tool_calls` raises
    `HarnessError`; a call with bad arguments is kept as a malformed call (the
    episode answers it with an error, as it does for a model's).
    """
    if isinstance(message, AssistantTurn):
        return message
    if not isinstance(message, Mapping):
        raise HarnessError(f"an assistant turn is a message dict or an AssistantTurn, not {type(message).__name__}")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise HarnessError(f"assistant content must be a string or null, not {type(content).__name__}")
    calls: list[ToolCall] = []
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, Sequence) or isinstance(raw_calls, str):
        raise HarnessError("tool_calls must be a list of calls")
    for index, raw in enumerate(raw_calls):
        if not isinstance(raw, Mapping):
            raise HarnessError(f"tool_calls[{index}] must be an object")
        function = raw.get("function", raw)
        if not isinstance(function, Mapping):
            raise HarnessError(f"tool_calls[{index}].function must be an object")
        name = str(function.get("name") or "")
        arguments = function.get("arguments")
        call_id = str(raw.get("id") or f"call_{index}")
        if isinstance(arguments, Mapping) or arguments is None or isinstance(arguments, str):
            call = ToolCall.make(call_id, name, arguments)
        else:
            # A list or a number: keep what the model wrote, reported as not an object.
            call = ToolCall(call_id, name, json.dumps(arguments), None, "arguments must be a JSON object")
        if not name:
            call = ToolCall(call.id, "", call.raw_arguments, None, "the tool call names no function")
        calls.append(call)
    tokens = message.get("tokens")
    return AssistantTurn(
        content=content,
        tool_calls=tuple(calls),
        finish_reason=message.get("finish_reason") or ("tool_calls" if calls else "stop"),
        tokens=TokenData(**tokens) if isinstance(tokens, Mapping) else None,
    )


def decoded_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copy OpenAI-format messages with each tool call's arguments as an object where they decode to one.

    Chat templates (Qwen's, Llama's) write `arguments | tojson`: a JSON string
    there comes out encoded twice. Arguments that are not a JSON object stay as
    the model wrote them.
    """
    out = []
    for message in messages:
        copied = dict(message)
        if message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                function = dict(call.get("function") or {})
                arguments = function.get("arguments")
                if isinstance(arguments, str):
                    try:
                        decoded = json.loads(arguments) if arguments.strip() else {}
                    except json.JSONDecodeError:
                        decoded = None
                    if isinstance(decoded, dict):
                        function["arguments"] = decoded
                calls.append({**call, "function": function})
            copied["tool_calls"] = calls
        out.append(copied)
    return out


class GymEpisode:
    """One episode opened by `Gym.episode`: the observation so far, `step(message)`, and the outcome."""

    def __init__(self, env: TaskEnv, observation: Observation) -> None:
        self.env = env
        self.observation = observation
        self.last: StepResult | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The whole conversation so far, OpenAI format, tool-call arguments as objects."""
        return decoded_messages(self.env.messages)

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tools in the OpenAI function-calling format."""
        return self.observation.openai_tools()

    @property
    def done(self) -> bool:
        return self.env.done

    @property
    def reward(self) -> float | None:
        """The episode's reward once it is done and scored (None before, and for faults)."""
        return None if self.env.reward is None or self.env.fault else self.env.reward.total

    async def step(self, message: Mapping[str, Any] | AssistantTurn) -> StepResult:
        """Take one assistant turn (a message dict or an `AssistantTurn`); see `TaskEnv.step`."""
        self.last = await self.env.step(assistant_turn(message))
        return self.last

    async def end(self, reason: Termination, detail: str | None = None) -> StepResult:
        """End the episode from outside (the sampler failed, the trainer's budget ran out) and score it."""
        self.env.end(reason, detail)
        await self.env.finish()
        self.last = StepResult((), True, self.env.termination, self.env.reward)
        return self.last

    def record(
        self, *, policy: Mapping[str, Any] | None = None, sampler: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The episode's record (docs/harness.md), as the runner writes it."""
        task = self.env.task
        return self.env.record(
            policy=policy or {"name": "external", "model": None},
            episode_id=episode_id(task.env, task.id, self.env.sample),
            sampler=sampler,
        )


class Gym:
    """Catalog environments opened on first use and shared by the episodes; use as `async with Gym() as gym`.

    `catalog` is the folder of compiled servers (default: the installed
    catalog); `transport` how servers are reached; `config` the episodes'
    limits and reward rule; `user` who answers the agent's text turns (None:
    the first answer ends the episode).
    """

    def __init__(
        self,
        *,
        catalog: Path | None = None,
        transport: Transport = "memory",
        config: EpisodeConfig | None = None,
        user: UserSimulator | None = None,
        pool_size: int = 8,
        endpoints: Mapping[str, Endpoint] | None = None,
    ) -> None:
        self.catalog = catalog
        self.transport = transport
        self.config = config or EpisodeConfig()
        self.user = user
        self.pool_size = pool_size
        self.references = ReferenceCache()
        self._endpoints: dict[str, Endpoint] = dict(endpoints or {})
        self._tasks: dict[str, dict[str, Task]] = {}
        self._lock = anyio.Lock()
        self._stop = anyio.Event()
        self._group: anyio.abc.TaskGroup | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        # Each endpoint lives in a task of this group, so it closes in the task that opened it,
        # whichever task (or portal call) first asked for it.
        self._group = await self._stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        await self._stack.aclose()

    def tasks(self, env: str) -> list[Task]:
        """The catalog tasks of `env` (read once); raises `UnknownEnvironment` for an unknown name."""
        if env not in self._tasks:
            self._tasks[env] = {task.id: task for task in catalog_tasks(env, self.catalog)}
        return list(self._tasks[env].values())

    def task(self, env: str, task_id: str) -> Task:
        """One catalog task; raises `HarnessError` naming the known ids when there is no such task."""
        self.tasks(env)
        found = self._tasks[env].get(task_id)
        if found is None:
            known = ", ".join(sorted(self._tasks[env])[:20])
            raise HarnessError(
                f"{env}: no task {task_id!r} (tasks: {known}{', ...' if len(self._tasks[env]) > 20 else ''})"
            )
        return found

    async def endpoint(self, env: str) -> Endpoint:
        """The endpoint of `env`, opened on first use and kept until the gym closes."""
        if self._group is None:
            raise HarnessError("use the gym as `async with Gym() as gym:`")
        async with self._lock:
            if env not in self._endpoints:
                self._endpoints[env] = await self._group.start(self._host, env)
            return self._endpoints[env]

    async def _host(self, env: str, *, task_status: anyio.abc.TaskStatus[Endpoint]) -> None:
        async with open_endpoint(
            env, self.transport, catalog=self.catalog, pool_size=self.pool_size, call_timeout=self.config.tool_timeout
        ) as endpoint:
            task_status.started(endpoint)
            await self._stop.wait()

    @asynccontextmanager
    async def episode(self, env: str, task: str | Task, *, seed: int = 0, sample: int = 0) -> AsyncIterator[GymEpisode]:
        """Open one episode of `task` (an id or a `Task`) on a fresh session of `env`; reset and yield it.

        Raises `InfraError` / `ControlError` when the environment cannot be
        reached or refuses the task's initial state (as `TaskEnv.reset`).
        """
        resolved = self.task(env, task) if isinstance(task, str) else task
        if resolved.env != env:
            raise HarnessError(f"task {resolved.id!r} belongs to {resolved.env!r}, not {env!r}")
        endpoint = await self.endpoint(env)
        async with TaskEnv(
            endpoint,
            resolved,
            seed=seed,
            sample=sample,
            config=self.config,
            references=self.references,
            user=self.user,
        ) as task_env:
            observation = await task_env.reset()
            yield GymEpisode(task_env, observation)


class BlockingEpisode:
    """A `GymEpisode` driven from synchronous code through its gym's event-loop thread."""

    def __init__(self, gym: BlockingGym, episode: GymEpisode, close: Callable[[], None]) -> None:
        self._gym = gym
        self.episode = episode
        self._close = close
        self.closed = False

    @property
    def env(self) -> TaskEnv:
        return self.episode.env

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.episode.messages

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.episode.tools

    @property
    def done(self) -> bool:
        return self.episode.done

    @property
    def reward(self) -> float | None:
        return self.episode.reward

    def step(self, message: Mapping[str, Any] | AssistantTurn) -> StepResult:
        """Take one assistant turn; see `GymEpisode.step`."""
        result: StepResult = self._gym.call(self.episode.step, message)
        return result

    def end(self, reason: Termination, detail: str | None = None) -> StepResult:
        """End the episode from outside and score it; see `GymEpisode.end`."""
        result: StepResult = self._gym.call(self.episode.end, reason, detail)
        return result

    def record(self, **kwargs: Any) -> dict[str, Any]:
        return self.episode.record(**kwargs)

    def close(self) -> None:
        """Give the session back (idempotent)."""
        if not self.closed:
            self.closed = True
            self._close()


class BlockingGym:
    """A `Gym` for synchronous callers: its own event loop in a thread, shared by every episode it lends.

    Thread-safe: episodes may be opened and stepped from any thread. Close it
    (or use `with`) to stop the loop and the servers; `shared()` gives one
    process-wide instance for trainer hooks that cannot carry one.
    """

    _shared: BlockingGym | None = None
    _shared_lock = threading.Lock()

    def __init__(self, **options: Any) -> None:
        self._portal_cm = start_blocking_portal()
        self._portal: BlockingPortal = self._portal_cm.__enter__()
        self._gym_cm = self._portal.wrap_async_context_manager(Gym(**options))
        try:
            self.gym: Gym = self._gym_cm.__enter__()
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise
        self.closed = False
        self._open: set[BlockingEpisode] = set()
        self._open_lock = threading.Lock()

    @classmethod
    def shared(cls, **options: Any) -> BlockingGym:
        """One gym per process with these options (the first caller's options win)."""
        with cls._shared_lock:
            if cls._shared is None or cls._shared.closed:
                cls._shared = cls(**options)
            return cls._shared

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run an async function on the gym's loop and return its result."""
        return self._portal.call(fn, *args)

    def tasks(self, env: str) -> list[Task]:
        return self.gym.tasks(env)

    def task(self, env: str, task_id: str) -> Task:
        return self.gym.task(env, task_id)

    def open(self, env: str, task: str | Task, *, seed: int = 0, sample: int = 0) -> BlockingEpisode:
        """Open and reset one episode; close it with `BlockingEpisode.close()`."""
        if self.closed:
            raise HarnessError("the gym is closed")
        manager = self._portal.wrap_async_context_manager(self.gym.episode(env, task, seed=seed, sample=sample))
        episode = manager.__enter__()

        def close() -> None:
            with self._open_lock:
                self._open.discard(lent)
            manager.__exit__(None, None, None)

        lent = BlockingEpisode(self, episode, close)
        with self._open_lock:
            self._open.add(lent)
        return lent

    def close(self) -> None:
        """Close every endpoint and stop the loop (idempotent)."""
        if self.closed:
            return
        with self._open_lock:
            still_open = list(self._open)
        for episode in still_open:  # episodes a caller never closed hold tasks the loop would wait for
            episode.close()
        self.closed = True
        try:
            self._gym_cm.__exit__(None, None, None)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
