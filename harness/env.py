"""A task as an environment a trainer drives: reset, then step with assistant turns until done.

```python
async with TaskEnv(endpoint, task, seed=7) as env:
    observation = await env.reset()            # system policy, the user's opening line, the tools
    while True:
        turn = await my_sampler(observation.messages + history, observation.tools)
        step = await env.step(turn)             # tool results, or the user's next message
        history += [assistant_message(turn), *step.messages]
        if step.done:
            break
print(step.reward.total, step.reward.components, step.termination)
```

One `TaskEnv` is one episode on one fresh session: the task's initial state
is set before the first observation, every call is validated against the
tool's schema (errors go back to the model as tool results), runs under a
deadline, and the episode ends with a typed termination reason. On `done`,
a scored episode carries the one judge's verdict as a reward. The runner's
episodes (`harness.episode`) are this same loop with a `Policy` as sampler.

Termination reasons separate the agent's failures from faults that are not
its doing (faults are counted and reported, never scored):

| reason | meaning | scored |
| --- | --- | --- |
| `answered` | the agent answered and the user ended the conversation | yes |
| `max_turns` | the turn limit was reached | yes |
| `malformed_output` | an empty reply, or too many turns of malformed calls in a row | yes |
| `truncated` | the conversation outgrew the model's context (or its reply was cut at the token limit) | as configured |
| `timeout` | the episode passed its wall-clock deadline | no (fault) |
| `model_error` | the model (or the simulated user) produced no turn: timeouts or errors after retries | no (fault) |
| `env_fault` | a tool hit a bug of the environment, or did not answer within its deadline | no (fault) |
| `infra_error` | the connection to the environment broke; the runner retries | no (fault) |
| `task_error` | the task cannot run as written (its solution calls an unknown tool, its initial state is refused) | no (fault) |
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self

import anyio

from harness.connection import Connection, Endpoint, ToolResult, ToolSpec
from harness.conversation import AssistantTurn, ToolCall, assistant_message, tool_message
from harness.descriptions import ToolText, describe, descriptions_sha256
from harness.errors import ConnectionLost, ControlError, InfraError, MalformedOutput, ModelError, TaskError
from harness.faults import FaultConfig, FaultInjector
from harness.reward import Reference, ReferenceCache, Reward, RewardConfig, reward_of
from harness.schema import ArgumentChecker
from harness.user import ScriptedUser, UserSimulator
from mcpfactory.runtime import Run, RunCall, StateView, Task, TurnOutcome, judge

__all__ = [
    "FAULT_TERMINATIONS",
    "EpisodeConfig",
    "Observation",
    "StepResult",
    "TaskEnv",
    "Termination",
]


class Termination(enum.StrEnum):
    """Why an episode ended."""

    ANSWERED = "answered"
    MAX_TURNS = "max_turns"
    MALFORMED_OUTPUT = "malformed_output"
    TRUNCATED = "truncated"
    TIMEOUT = "timeout"
    MODEL_ERROR = "model_error"
    ENV_FAULT = "env_fault"
    INFRA_ERROR = "infra_error"
    TASK_ERROR = "task_error"


FAULT_TERMINATIONS = frozenset(
    {
        Termination.TIMEOUT,
        Termination.MODEL_ERROR,
        Termination.ENV_FAULT,
        Termination.INFRA_ERROR,
        Termination.TASK_ERROR,
    }
)


@dataclass(frozen=True, slots=True)
class EpisodeConfig:
    """Limits and rules of an episode. `system_prompt` None means the server's instructions.

    `model_timeout` is the deadline of one model attempt (the policy's own
    retries each get one); `tool_timeout` bounds one tool call; `episode_timeout`
    bounds the whole episode. `truncated` says how an episode cut short by the
    model's context is scored: judged as it stands (`score`) or 0 (`zero`).
    `tool_descriptions` replaces what the model reads about the listed tools
    (`harness.descriptions`).
    """

    max_turns: int = 30
    model_timeout: float = 120.0
    tool_timeout: float = 30.0
    episode_timeout: float | None = None
    max_malformed_turns: int = 3
    system_prompt: str | None = None
    reward: RewardConfig = field(default_factory=RewardConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    check_invariants: bool = False
    truncated: Literal["score", "zero"] = "score"
    tool_descriptions: Mapping[str, ToolText] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "max_turns": self.max_turns,
            "model_timeout": self.model_timeout,
            "tool_timeout": self.tool_timeout,
            "episode_timeout": self.episode_timeout,
            "max_malformed_turns": self.max_malformed_turns,
            "system_prompt": self.system_prompt,
            "reward": self.reward.to_json(),
            "faults": self.faults.to_json(),
            "check_invariants": self.check_invariants,
            "truncated": self.truncated,
            "tool_descriptions": descriptions_sha256(self.tool_descriptions),
        }


@dataclass(frozen=True, slots=True)
class Observation:
    """What the agent starts from: the conversation so far (system policy, the user's opening) and the tools."""

    messages: tuple[dict[str, Any], ...]
    tools: tuple[ToolSpec, ...]

    def openai_tools(self) -> list[dict[str, Any]]:
        """The tools in the OpenAI function-calling format (what chat templates and samplers take)."""
        return [tool.to_openai() for tool in self.tools]


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one assistant turn led to: the messages to append, and on `done` the outcome."""

    messages: tuple[dict[str, Any], ...]
    done: bool
    termination: Termination | None = None
    reward: Reward | None = None
    tools: tuple[ToolSpec, ...] = ()  # the tools offered from now on (more may appear at a later user turn)


_CHECKERS: dict[tuple[str, str | None, tuple[str, ...]], ArgumentChecker] = {}


def _checker(endpoint: Endpoint, tools: Sequence[ToolSpec]) -> ArgumentChecker:
    key = (endpoint.env, endpoint.spec_sha256, tuple(tool.name for tool in tools))
    checker = _CHECKERS.get(key)
    if checker is None:
        checker = _CHECKERS[key] = ArgumentChecker(list(tools))
    return checker


class TaskEnv:
    """One episode of `task` on fresh sessions lent by its endpoints; use as `async with`.

    `reset()` returns the first observation; `step(turn)` takes one assistant
    turn and returns what follows. After `done`, `record()` returns the
    episode's full record. `end(reason, detail)` ends an episode from outside
    (the caller's model failed); it is then scored or not as `reason` says.

    A task may use several environments at once (`Task.envs`), as real MCP
    clients connect to several servers: `endpoints` then maps each name to its
    endpoint, the agent is offered every server's tools together (a name two
    servers both list is a `TaskError`), and each call goes to the server that
    listed it. A scripted multi-turn task (`user_scenario.turns`) is played by a
    `ScriptedUser` whatever user was given; tools listed in `tools_from_turn`
    are offered from that turn on (`Observation` and `StepResult` carry the
    tools), though a call to one before then still reaches its server, as in BFCL.
    """

    def __init__(
        self,
        endpoint: Endpoint | Mapping[str, Endpoint],
        task: Task,
        *,
        seed: int = 0,
        sample: int = 0,
        config: EpisodeConfig | None = None,
        references: ReferenceCache | None = None,
        user: UserSimulator | None = None,
        attempt: int = 1,
    ) -> None:
        self.endpoints = dict(endpoint) if isinstance(endpoint, Mapping) else {task.env: endpoint}
        missing = [env for env in task.envs if env not in self.endpoints]
        if missing:
            raise TaskError(task.id, f"no endpoint for {', '.join(missing)}")
        self.endpoint = self.endpoints[task.env]
        self.task = task
        self.seed = seed
        self.sample = sample
        self.config = config or EpisodeConfig()
        self.references = references or ReferenceCache()
        self.user = user if not (task.user and task.user.turns) else ScriptedUser()
        self.attempt = attempt
        self.injector = FaultInjector(self.config.faults, seed, attempt) if self.config.faults.enabled else None
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.results: list[ToolResult] = []
        self.model_calls: list[dict[str, Any]] = []
        self.tools: tuple[ToolSpec, ...] = ()
        self.turns = 0
        self.termination: Termination | None = None
        self.detail: str | None = None
        self.reward: Reward | None = None
        self.scored: dict[str, Any] | None = None
        self.model_s = 0.0
        self.tools_s = 0.0
        self.scoring_s = 0.0
        self._started = time.perf_counter()
        self._deadline: float | None = None
        self._malformed_streak = 0
        self.user_turn = 0
        self.turn_outcomes: list[TurnOutcome] = []
        self._turn_results: list[str] = []
        self._connections: dict[str, Connection] = {}
        self._route: dict[str, str] = {}
        self._all_tools: tuple[ToolSpec, ...] = ()
        self._checker: ArgumentChecker | None = None
        self._reference: Reference | None = None
        self._stack = AsyncExitStack()

    # lifecycle ------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Return the session to the endpoint (a session whose state is in doubt is discarded)."""
        with anyio.CancelScope(shield=True):
            await self._stack.aclose()

    @property
    def done(self) -> bool:
        return self.termination is not None

    @property
    def connection(self) -> Connection:
        """The session of the task's own environment."""
        return self._connections[self.task.env]

    @property
    def _connection(self) -> Connection | None:
        return self._connections.get(self.task.env)

    def _tools_at(self, turn: int) -> tuple[ToolSpec, ...]:
        offered = self.task.tools_from_turn
        return tuple(tool for tool in self._all_tools if offered.get(tool.name, 0) <= turn)

    async def reset(self) -> Observation:
        """Start the episode: a fresh session at the task's initial state; return the first observation.

        Raises `InfraError` (or `ConnectionLost`) when the environment cannot be
        reached, `TaskError` when the task cannot run as written.
        """
        self._started = time.perf_counter()
        if self.config.episode_timeout is not None:
            self._deadline = self._started + self.config.episode_timeout
        timeout = self.config.tool_timeout
        try:
            for env in self.task.envs:
                self._connections[env] = await self._stack.enter_async_context(self.endpoints[env].session())
            # The reference replays (once per task) on these sessions before the resets below.
            self._reference = await self.references.get(self.task, self._connections, timeout=timeout)
            listed: list[ToolSpec] = []
            for env, connection in self._connections.items():
                # The server's own generator seed stays the environment's: the reference ran with it too.
                try:
                    await connection.reset(self.task.initial_for(env), timeout=timeout)
                except ControlError as exc:
                    raise TaskError(self.task.id, f"{env} refuses its initial state: {exc}") from exc
                for tool in await connection.tools():
                    if tool.name in self._route:
                        raise TaskError(
                            self.task.id, f"{env} and {self._route[tool.name]} both offer a tool named {tool.name!r}"
                        )
                    self._route[tool.name] = env
                    listed.append(describe(tool, self.config.tool_descriptions.get(tool.name)))
        except TimeoutError:
            for connection in self._connections.values():
                connection.broken = True
            raise InfraError(f"{self.task.env}: the environment did not answer a control call in {timeout} s") from None
        self._all_tools = tuple(listed)
        self.tools = self._tools_at(0)
        # Calls are checked against every tool of the task, offered yet or not: as in BFCL's miss_func, a
        # tool held back until a later turn is hidden from the model, not taken from the environment.
        self._checker = (
            ArgumentChecker(list(self._all_tools))
            if self.task.also or self.task.tools_from_turn
            else _checker(self.endpoint, self.tools)
        )
        system = self.config.system_prompt if self.config.system_prompt is not None else self.endpoint.instructions
        if system:
            self.messages.append({"role": "system", "content": system})
        self.messages.append({"role": "user", "content": self.task.opening})
        return Observation(tuple(self.messages), self.tools)

    def end(self, reason: Termination, detail: str | None = None) -> None:
        """End the episode for `reason` (the first reason given wins)."""
        if self.termination is None:
            self.termination, self.detail = reason, detail

    def time_left(self) -> float | None:
        """Seconds before the episode's deadline, or None without one."""
        return None if self._deadline is None else self._deadline - time.perf_counter()

    # stepping -------------------------------------------------------------------
    def note_model_call(self, turn: AssistantTurn, started: float) -> None:
        """Record one model call's metadata (latency, attempts, finish reason, usage, tokens)."""
        elapsed = time.perf_counter() - started
        self.model_s += elapsed
        self.model_calls.append(
            {
                "turn": self.turns,
                "latency_s": round(elapsed, 6),
                "attempts": turn.attempts,
                "finish_reason": turn.finish_reason,
                "usage": dict(turn.usage) if turn.usage else None,
                "tokens": turn.tokens.to_json() if turn.tokens else None,
            }
        )

    async def step(self, turn: AssistantTurn) -> StepResult:
        """Take one assistant turn; return the tool results or the user's reply, and on `done` the outcome."""
        if self.done:
            raise RuntimeError("the episode is over; open a new TaskEnv")
        before = len(self.messages)
        self.turns += 1
        self.messages.append(assistant_message(turn))
        try:
            with anyio.fail_after(self.time_left() if self._deadline is not None else None):
                await self._take(turn)
        except TimeoutError:
            self.end(Termination.TIMEOUT, f"the episode passed its {self.config.episode_timeout} s deadline")
        except ConnectionLost as exc:
            self.end(Termination.INFRA_ERROR, str(exc))
        if not self.done and self.turns >= self.config.max_turns:
            self.end(Termination.MAX_TURNS, f"no answer after {self.config.max_turns} turns")
        await self.finish()
        return StepResult(tuple(self.messages[before + 1 :]), self.done, self.termination, self.reward, self.tools)

    async def _take(self, turn: AssistantTurn) -> None:
        if turn.is_empty:
            self.end(Termination.MALFORMED_OUTPUT, "the model replied with neither text nor tool calls")
            return
        if turn.finish_reason == "length" and not turn.tool_calls:
            self.end(Termination.TRUNCATED, "the model's reply was cut at its token limit")
            return
        if not turn.tool_calls:
            await self._answer()
            return
        malformed = 0
        for call in turn.tool_calls:
            if not await self._tool_call(call):
                malformed += 1
            if self.done:
                return
        self._malformed_streak = self._malformed_streak + 1 if malformed == len(turn.tool_calls) else 0
        if self._malformed_streak >= self.config.max_malformed_turns:
            self.end(Termination.MALFORMED_OUTPUT, f"{self._malformed_streak} turns in a row with only malformed calls")

    async def _answer(self) -> None:
        if self.user is None:
            await self._close_turn()
            self.end(Termination.ANSWERED)
            return
        started = time.perf_counter()
        try:
            reply = await self.user.reply(self.task, self.messages)
        except ModelError as exc:
            self.end(Termination.MODEL_ERROR, f"simulated user: {exc}")
            return
        except MalformedOutput as exc:
            self.end(Termination.MODEL_ERROR, f"simulated user: {exc}")
            return
        finally:
            self.model_s += time.perf_counter() - started
        advances = self.task.user is not None and reply.text in self.task.user.turns
        if reply.stop or advances:
            await self._close_turn()  # the user moves on: this turn ended where the agent left it
        if reply.text:
            self.messages.append({"role": "user", "content": reply.text})
        if reply.stop:
            self.end(Termination.ANSWERED)
        elif advances:
            self.user_turn += 1
            self.tools = self._tools_at(self.user_turn)

    async def _close_turn(self) -> None:
        """A user turn ended (the agent answered): keep where it left each environment, when the judge needs it."""
        if self.task.judge.kind != "turns" or len(self.turn_outcomes) > self.user_turn:
            return
        view = self.task.judge.view
        assert view is not None
        views = {}
        for env, connection in self._connections.items():
            try:
                views[env] = await connection.view(view, timeout=self.config.tool_timeout)
            except ControlError as exc:
                raise TaskError(self.task.id, f"{env} has no view {view!r}: {exc}") from exc
        self.turn_outcomes.append(TurnOutcome(views, tuple(self._turn_results)))
        self._turn_results = []

    async def _tool_call(self, call: ToolCall) -> bool:
        """Run one call and append its result message; return False if the call was malformed."""
        record: dict[str, Any] = {
            "index": len(self.calls),
            "turn": self.turns - 1,
            "id": call.id,
            "tool": call.name,
            "arguments": dict(call.arguments) if call.arguments is not None else None,
            "raw_arguments": call.raw_arguments,
            "result": None,
            "text": None,
            "is_error": False,
            "error_code": None,
            "fault": None,
            "malformed": None,
            "injected": None,
            "started_s": round(time.perf_counter() - self._started, 6),
            "duration_s": 0.0,
        }
        self.calls.append(record)
        malformed, text = self._validate(call)
        if malformed is not None:
            record.update(malformed=malformed, is_error=True, error_code=malformed, text=text)
            self.messages.append(tool_message(call.id, text))
            return False
        assert call.arguments is not None
        injected = self.injector.draw() if self.injector else None
        record["injected"] = injected
        if injected == "drop":
            self._connections[self._route[call.name]].broken = True
            raise ConnectionLost(self.task.env, f"injected connection drop at call {record['index']}")
        started = time.perf_counter()
        try:
            if injected == "transient_error":
                result = FaultInjector.transient_result()
            else:
                with anyio.fail_after(self.config.tool_timeout):
                    if injected == "latency":
                        await anyio.sleep(self.config.faults.latency_s)
                    result = await self._connections[self._route[call.name]].call_tool(call.name, call.arguments)
        except TimeoutError:
            self._connections[self._route[call.name]].broken = True
            record.update(is_error=True, error_code="timeout", duration_s=round(time.perf_counter() - started, 6))
            self.end(Termination.ENV_FAULT, f"tool call {call.name} passed its {self.config.tool_timeout} s deadline")
            return True
        finally:
            self.tools_s += time.perf_counter() - started
        record.update(
            result=result.value,
            text=result.text,
            is_error=result.is_error,
            error_code=result.error_code,
            fault=dict(result.fault) if result.fault else None,
            duration_s=round(time.perf_counter() - started, 6),
        )
        self.results.append(result)
        self._turn_results.append(result.text)
        self.messages.append(tool_message(call.id, result.text))
        if result.fault is not None:
            self.end(Termination.ENV_FAULT, f"{call.name}: {result.text}")
        return True

    def _validate(self, call: ToolCall) -> tuple[str | None, str]:
        assert self._checker is not None
        if not call.name:
            return "unknown_tool", "Error: the tool call names no function."
        if call.parse_error is not None or call.arguments is None:
            return "invalid_json", f"Error: {call.parse_error or 'arguments are not a JSON object'}"
        message, _ = self._checker.check(call.name, call.arguments)
        if not self._checker.known(call.name):
            return "unknown_tool", f"Error: {message}"
        if message is not None:
            return "invalid_arguments", f"Error: {message}"
        return None, ""

    # scoring --------------------------------------------------------------------
    @property
    def fault(self) -> bool:
        return self.termination in FAULT_TERMINATIONS

    async def finish(self) -> None:
        """Judge an ended episode (once): the final state and the conversation, unless it ended in a fault."""
        if not self.done or self.reward is not None or self.scored is not None:
            return
        connections = list(self._connections.values())
        if self.fault or not connections or any(c.broken for c in connections) or self._reference is None:
            return
        started = time.perf_counter()
        timeout = self.config.tool_timeout
        connection = self.connection
        try:
            await self._close_turn()
            seed = await self.endpoint.seed_state(connection)
            final = StateView(seed, await connection.snapshot("changes", timeout=timeout))
            violations = await connection.invariants(timeout=timeout) if self.config.check_invariants else None
        except TaskError as exc:
            self.termination, self.detail = Termination.TASK_ERROR, str(exc)
            return
        except (TimeoutError, ConnectionLost, ControlError) as exc:
            connection.broken = True
            self.termination, self.detail = Termination.INFRA_ERROR, f"scoring failed: {exc}"
            return
        run = Run(
            final=final,
            messages=[str(m["content"]) for m in self.messages if m["role"] == "assistant" and m.get("content")],
            calls=[
                RunCall(c["tool"], c["arguments"], malformed=bool(c["malformed"]))
                for c in self.calls
                if not c["injected"]
            ],
        )
        verdict = judge(
            self.task,
            replace(run, turns=tuple(self.turn_outcomes)),
            initial=self._reference.initial,
            reference=self._reference.final,
            schemas={tool.name: tool.input_schema for tool in self._all_tools},
            reference_turns=self._reference.turns,
        )
        reward = reward_of(verdict, self.config.reward)
        if self.termination == Termination.TRUNCATED and self.config.truncated == "zero":
            reward = Reward(0.0, False, reward.components, ("truncated episodes score 0", *reward.failures))
        self.reward = reward
        self.scored = {
            "invariant_violations": violations,
            "reference_fault": self._reference.fault,
        }
        self.scoring_s = time.perf_counter() - started

    # the record -------------------------------------------------------------------
    def record(
        self, *, policy: Mapping[str, Any], episode_id: str, sampler: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The episode's record (docs/harness.md): conversation, calls, timings, reward and its components."""
        assert self.termination is not None
        reward = self.reward
        success = None if self.fault or reward is None else reward.success
        return {
            "episode_id": episode_id,
            "env": self.task.env,
            "task": self.task.id,
            "sample": self.sample,
            "attempt": self.attempt,
            "seed": self.seed,
            "spec_sha256": self.endpoint.spec_sha256,
            "transport": self.endpoint.transport,
            "policy": dict(policy),
            "sampler": dict(sampler) if sampler is not None else None,
            "user": self.user.name if self.user is not None else None,
            "termination": str(self.termination),
            "termination_detail": self.detail,
            "fault": self.fault,
            "reward": reward.total if reward is not None and not self.fault else 0.0,
            "success": success,
            "reward_components": dict(reward.components) if reward is not None and not self.fault else None,
            "judge_failures": list(reward.failures) if reward is not None and not self.fault else None,
            "invariant_violations": (self.scored or {}).get("invariant_violations"),
            "reference_fault": (self.scored or {}).get("reference_fault"),
            "turns": self.turns,
            "num_calls": len(self.calls),
            "num_tool_errors": sum(1 for c in self.calls if c["is_error"] and not c["malformed"]),
            "num_malformed_calls": sum(1 for c in self.calls if c["malformed"]),
            "num_injected_faults": sum(1 for c in self.calls if c["injected"]),
            "final_answer": self.final_answer,
            "messages": self.messages,
            "tools": [tool.to_openai() for tool in self.tools],
            "calls": self.calls,
            "model_calls": self.model_calls,
            "timings": {
                "total_s": round(time.perf_counter() - self._started, 6),
                "model_s": round(self.model_s, 6),
                "tools_s": round(self.tools_s, 6),
                "scoring_s": round(self.scoring_s, 6),
            },
            "difficulty": self.task.difficulty,
            "tags": list(self.task.tags),
            "refusal": self.task.refusal,
            "infra_failures": [],
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    @property
    def final_answer(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "assistant" and message.get("content"):
                return str(message["content"])
        return ""
