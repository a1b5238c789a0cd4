"""The episode: one task, one policy, one fresh session, in a sealed loop that always ends with a reason.

```
reset the session to the task's initial state -> list tools (control plane never shown)
loop:  model turn (deadline) -> each tool call in order: validate against the schema
       (errors go back to the model) -> call (deadline) -> result to the model
until: an answer without calls (and the simulated user, if any, stops),
       the turn limit, a deadline, or a fault
snapshot the final state -> score against the cached reference replay
```

Termination reasons separate the agent's failures from faults that are not
its doing:

| reason | meaning | scored |
| --- | --- | --- |
| `answered` | the model answered without tool calls (the user stopped) | yes |
| `max_turns` | the turn limit was reached | yes |
| `timeout` | a model call, a tool call or the episode passed its deadline | yes, if the session is intact |
| `malformed_output` | an empty or unusable reply, or too many malformed turns in a row | yes |
| `model_error` | the model server failed after retries, or refused the request | no (fault) |
| `env_fault` | a tool hit a bug of the environment | no (fault) |
| `infra_error` | the connection to the environment broke; the runner retries | no (fault) |
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import anyio

from harness.connection import Connection, Endpoint, ToolResult, ToolSpec
from harness.conversation import AssistantTurn, ToolCall, assistant_message, tool_message
from harness.errors import ConnectionLost, InfraError, MalformedOutput, ModelError
from harness.faults import FaultConfig, FaultInjector
from harness.policies.base import Policy, PolicyView
from harness.records import episode_id
from harness.reward import CallOutcome, ReferenceCache, RewardConfig, score
from harness.schema import ArgumentChecker
from harness.tasks import Task
from harness.user import UserSimulator

__all__ = ["FAULT_TERMINATIONS", "EpisodeConfig", "EpisodeJob", "Termination", "run_episode"]


class Termination(enum.StrEnum):
    """Why an episode ended."""

    ANSWERED = "answered"
    MAX_TURNS = "max_turns"
    TIMEOUT = "timeout"
    MODEL_ERROR = "model_error"
    MALFORMED_OUTPUT = "malformed_output"
    ENV_FAULT = "env_fault"
    INFRA_ERROR = "infra_error"


FAULT_TERMINATIONS = frozenset({Termination.MODEL_ERROR, Termination.ENV_FAULT, Termination.INFRA_ERROR})


@dataclass(frozen=True, slots=True)
class EpisodeConfig:
    """Limits and rules of an episode. `system_prompt` None means the server's instructions."""

    max_turns: int = 30
    model_timeout: float = 120.0
    tool_timeout: float = 30.0
    episode_timeout: float | None = None
    max_malformed_turns: int = 3
    system_prompt: str | None = None
    reward: RewardConfig = field(default_factory=RewardConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    check_invariants: bool = False
    state_hash: Literal["auto", "always"] = "auto"

    def wants_hash(self, task: Task) -> bool:
        """Whether to ask the server for canonical state hashes (it hashes the whole state, seed included)."""
        return self.state_hash == "always"

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
            "state_hash": self.state_hash,
        }


@dataclass(frozen=True, slots=True)
class EpisodeJob:
    """One episode to run: a task, which sample of its group, and the seed the policy draws from."""

    task: Task
    sample: int = 0
    seed: int = 0

    @property
    def episode_id(self) -> str:
        return episode_id(self.task.env, self.task.id, self.sample)


class _ToolTimeout(Exception):
    pass


_CHECKERS: dict[tuple[str, str | None, tuple[str, ...]], ArgumentChecker] = {}


def _checker(endpoint: Endpoint, tools: Sequence[ToolSpec]) -> ArgumentChecker:
    key = (endpoint.env, endpoint.spec_sha256, tuple(tool.name for tool in tools))
    checker = _CHECKERS.get(key)
    if checker is None:
        checker = _CHECKERS[key] = ArgumentChecker(list(tools))
    return checker


class _Episode:
    def __init__(
        self,
        job: EpisodeJob,
        policy: Policy,
        endpoint: Endpoint,
        config: EpisodeConfig,
        references: ReferenceCache,
        attempt: int,
        user: UserSimulator | None,
    ) -> None:
        self.job = job
        self.task = job.task
        self.policy = policy
        self.endpoint = endpoint
        self.config = config
        self.references = references
        self.attempt = attempt
        self.user = user
        self.injector = FaultInjector(config.faults, job.seed, attempt) if config.faults.enabled else None
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.outcomes: list[CallOutcome] = []
        self.results: list[ToolResult] = []
        self.model_calls: list[dict[str, Any]] = []
        self.tools: list[ToolSpec] = []
        self.turns = 0
        self.answer: str | None = None
        self.termination: Termination | None = None
        self.detail: str | None = None
        self.started = time.perf_counter()
        self.model_s = 0.0
        self.tools_s = 0.0
        self.in_call = False

    def end(self, reason: Termination, detail: str | None = None) -> None:
        if self.termination is None:
            self.termination, self.detail = reason, detail

    # the loop ---------------------------------------------------------------
    async def loop(self, connection: Connection) -> None:
        tools = await connection.list_tools()
        self.tools = tools
        checker = _checker(self.endpoint, tools)
        system = self.config.system_prompt if self.config.system_prompt is not None else self.endpoint.instructions
        if system:
            self.messages.append({"role": "system", "content": system})
        self.messages.append({"role": "user", "content": self.task.instruction})
        malformed_streak = 0
        for turn in range(self.config.max_turns):
            reply = await self._model_turn(tools, turn)
            if reply is None:
                return
            self.turns += 1
            self.messages.append(assistant_message(reply))
            if reply.is_empty:
                self.end(Termination.MALFORMED_OUTPUT, "the model replied with neither text nor tool calls")
                return
            if not reply.tool_calls:
                self.answer = reply.content or ""
                if self.user is None or await self._user_turn():
                    self.end(Termination.ANSWERED)
                    return
                continue
            malformed = 0
            for call in reply.tool_calls:
                if not await self._tool_call(connection, checker, call, turn):
                    malformed += 1
                if self.termination is not None:
                    return
            malformed_streak = malformed_streak + 1 if malformed == len(reply.tool_calls) else 0
            if malformed_streak >= self.config.max_malformed_turns:
                self.end(Termination.MALFORMED_OUTPUT, f"{malformed_streak} turns in a row with only malformed calls")
                return
        self.end(Termination.MAX_TURNS, f"no answer after {self.config.max_turns} turns")

    async def _model_turn(self, tools: list[ToolSpec], turn: int) -> AssistantTurn | None:
        view = PolicyView(
            task=self.task,
            messages=list(self.messages),
            tools=tools,
            turn=turn,
            seed=self.job.seed,
            results=list(self.results),
            episode_id=self.job.episode_id,
        )
        started = time.perf_counter()
        try:
            with anyio.fail_after(self.config.model_timeout):
                reply = await self.policy.act(view)
        except TimeoutError:
            self.end(Termination.TIMEOUT, f"model call {turn} passed its {self.config.model_timeout} s deadline")
            return None
        except ModelError as exc:
            self.end(Termination.MODEL_ERROR, str(exc))
            return None
        except MalformedOutput as exc:
            self.end(Termination.MALFORMED_OUTPUT, str(exc))
            return None
        finally:
            self.model_s += time.perf_counter() - started
        entry: dict[str, Any] = {
            "turn": turn,
            "latency_s": round(time.perf_counter() - started, 6),
            "attempts": reply.attempts,
            "finish_reason": reply.finish_reason,
            "usage": dict(reply.usage) if reply.usage else None,
            "tokens": reply.tokens.to_json() if reply.tokens else None,
        }
        self.model_calls.append(entry)
        return reply

    async def _user_turn(self) -> bool:
        """Ask the simulated user; return True if the conversation is over."""
        assert self.user is not None
        started = time.perf_counter()
        try:
            with anyio.fail_after(self.config.model_timeout):
                reply = await self.user.reply(self.task, self.messages)
        except TimeoutError:
            self.end(Termination.TIMEOUT, "the simulated user passed its deadline")
            return True
        except ModelError as exc:
            self.end(Termination.MODEL_ERROR, f"simulated user: {exc}")
            return True
        except MalformedOutput as exc:
            self.end(Termination.MODEL_ERROR, f"simulated user: {exc}")
            return True
        finally:
            self.model_s += time.perf_counter() - started
        if reply.text:
            self.messages.append({"role": "user", "content": reply.text})
        return reply.stop

    async def _tool_call(self, connection: Connection, checker: ArgumentChecker, call: ToolCall, turn: int) -> bool:
        """Run one call and append its result message; return False if the call was malformed."""
        record: dict[str, Any] = {
            "index": len(self.calls),
            "turn": turn,
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
            "started_s": round(time.perf_counter() - self.started, 6),
            "duration_s": 0.0,
        }
        self.calls.append(record)
        malformed, text = self._validate(checker, call)
        if malformed is not None:
            record.update(malformed=malformed, is_error=True, error_code=malformed, text=text)
            self.outcomes.append(CallOutcome(call.name, call.arguments, malformed=True))
            self.messages.append(tool_message(call.id, text))
            return False
        assert call.arguments is not None
        injected = self.injector.draw() if self.injector else None
        record["injected"] = injected
        if injected == "drop":
            connection.broken = True
            raise ConnectionLost(self.task.env, f"injected connection drop at call {record['index']}")
        started = time.perf_counter()
        self.in_call = True
        try:
            if injected == "transient_error":
                result = FaultInjector.transient_result()
            else:
                with anyio.fail_after(self.config.tool_timeout):
                    if injected == "latency":
                        await anyio.sleep(self.config.faults.latency_s)
                    result = await connection.call_tool(call.name, call.arguments)
        except TimeoutError:
            connection.broken = True
            record.update(is_error=True, error_code="timeout", duration_s=round(time.perf_counter() - started, 6))
            self.end(Termination.TIMEOUT, f"tool call {call.name} passed its {self.config.tool_timeout} s deadline")
            return True
        finally:
            self.in_call = False
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
        self.outcomes.append(CallOutcome(call.name, call.arguments, injected=injected == "transient_error"))
        self.messages.append(tool_message(call.id, result.text))
        if result.fault is not None:
            self.end(Termination.ENV_FAULT, f"{call.name}: {result.text}")
        return True

    @staticmethod
    def _validate(checker: ArgumentChecker, call: ToolCall) -> tuple[str | None, str]:
        if not call.name:
            return "unknown_tool", "Error: the tool call names no function."
        if call.parse_error is not None or call.arguments is None:
            return "invalid_json", f"Error: {call.parse_error or 'arguments are not a JSON object'}"
        if not checker.known(call.name):
            message, _ = checker.check(call.name, call.arguments)
            return "unknown_tool", f"Error: {message}"
        message, _ = checker.check(call.name, call.arguments)
        if message is not None:
            return "invalid_arguments", f"Error: {message}"
        return None, ""

    # scoring ----------------------------------------------------------------
    async def finish(self, connection: Connection) -> dict[str, Any]:
        """Snapshot and score the final state; return the reward part of the record."""
        timeout = self.config.tool_timeout
        with_hash = self.config.wants_hash(self.task)
        changes = await connection.snapshot("changes", timeout=timeout)
        final_hash = await connection.state_hash(timeout=timeout) if with_hash else None
        violations = (
            await connection.invariants(timeout=self.config.tool_timeout) if self.config.check_invariants else None
        )
        reference = await self.references.get(self.task, connection, with_hash=with_hash, timeout=timeout)

        async def seed() -> Mapping[str, Any]:
            return await self.endpoint.seed_state(connection)

        reward = await score(
            self.task,
            answer=self.final_answer,
            calls=self.outcomes,
            changes=changes,
            final_hash=final_hash,
            reference=reference,
            seed=seed,
            tools=self.tools,
            config=self.config.reward,
        )
        return {
            "reward": reward.total,
            "reward_components": dict(reward.components),
            "final_state_sha256": final_hash,
            "reference_state_sha256": reference.state_sha256,
            "invariant_violations": violations,
        }

    @property
    def final_answer(self) -> str:
        if self.answer is not None:
            return self.answer
        for message in reversed(self.messages):
            if message.get("role") == "assistant" and message.get("content"):
                return str(message["content"])
        return ""

    def record(self, scored: Mapping[str, Any] | None, policy_model: str | None, scoring_s: float) -> dict[str, Any]:
        assert self.termination is not None
        fault = self.termination in FAULT_TERMINATIONS
        reward = float(scored["reward"]) if scored and not fault else 0.0
        threshold = self.config.reward.success_threshold
        return {
            "episode_id": self.job.episode_id,
            "env": self.task.env,
            "task": self.task.id,
            "sample": self.job.sample,
            "attempt": self.attempt,
            "seed": self.job.seed,
            "spec_sha256": self.endpoint.spec_sha256,
            "transport": self.endpoint.transport,
            "policy": {"name": self.policy.name, "model": policy_model},
            "termination": str(self.termination),
            "termination_detail": self.detail,
            "fault": fault,
            "reward": reward,
            "success": None if fault else reward >= threshold,
            "reward_components": dict(scored["reward_components"]) if scored and not fault else None,
            "final_state_sha256": scored["final_state_sha256"] if scored else None,
            "reference_state_sha256": scored["reference_state_sha256"] if scored else None,
            "invariant_violations": scored["invariant_violations"] if scored else None,
            "turns": self.turns,
            "num_calls": len(self.calls),
            "num_tool_errors": sum(1 for c in self.calls if c["is_error"] and not c["malformed"]),
            "num_malformed_calls": sum(1 for c in self.calls if c["malformed"]),
            "num_injected_faults": sum(1 for c in self.calls if c["injected"]),
            "final_answer": self.final_answer,
            "messages": self.messages,
            "calls": self.calls,
            "model_calls": self.model_calls,
            "timings": {
                "total_s": round(time.perf_counter() - self.started, 6),
                "model_s": round(self.model_s, 6),
                "tools_s": round(self.tools_s, 6),
                "scoring_s": round(scoring_s, 6),
            },
            "difficulty": self.task.difficulty,
            "tags": list(self.task.tags),
            "infra_failures": [],
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }


async def run_episode(
    job: EpisodeJob,
    policy: Policy,
    endpoint: Endpoint,
    *,
    config: EpisodeConfig | None = None,
    references: ReferenceCache | None = None,
    attempt: int = 1,
    user: UserSimulator | None = None,
) -> dict[str, Any]:
    """Run one episode on a session lent by `endpoint`; return its record (never raises for episode failures).

    The session is returned to the endpoint whatever happens (cancellation
    included); a session whose state is in doubt (a dropped connection, a
    call abandoned at its deadline) is discarded, not lent again.
    """
    config = config or EpisodeConfig()
    references = references or ReferenceCache()
    episode = _Episode(job, policy, endpoint, config, references, attempt, user)
    scored: dict[str, Any] | None = None
    scoring_s = 0.0
    try:
        async with endpoint.session() as connection:
            try:
                # The reference replays (once per task) on this session before the reset below.
                with_hash = config.wants_hash(job.task)
                await references.get(job.task, connection, with_hash=with_hash, timeout=config.tool_timeout)
                await connection.reset(job.task.initial_state, timeout=config.tool_timeout)
                with anyio.move_on_after(config.episode_timeout) as deadline:
                    await episode.loop(connection)
                if deadline.cancelled_caught:
                    if episode.in_call:
                        connection.broken = True
                    episode.end(Termination.TIMEOUT, f"the episode passed its {config.episode_timeout} s deadline")
                if episode.termination not in FAULT_TERMINATIONS and not connection.broken:
                    started = time.perf_counter()
                    scored = await episode.finish(connection)
                    scoring_s = time.perf_counter() - started
            except TimeoutError:
                connection.broken = True
                episode.end(Termination.INFRA_ERROR, "a control call to the environment passed its deadline")
    except InfraError as exc:
        scored = None
        episode.end(Termination.INFRA_ERROR, str(exc))
    return episode.record(scored, policy.model, scoring_s)
