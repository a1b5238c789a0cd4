"""The `Policy` protocol: given the conversation and the tools, produce the next assistant turn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from harness.connection import ToolResult, ToolSpec
from harness.conversation import AssistantTurn
from mcpfactory.runtime import Task

__all__ = ["Policy", "PolicySpec", "PolicyView"]


@dataclass(frozen=True, slots=True)
class PolicyView:
    """What a policy sees when asked for a turn.

    `messages` is the OpenAI-format conversation so far (system, user,
    assistant and tool messages); `results` are the decoded results of the
    episode's tool calls in order; `turn` counts the model turns already taken;
    `seed` is the episode's seed (a policy that draws at random draws from it,
    a model policy sends it to the sampler); `interactive` says a simulated
    user will answer the policy's text turns (so asking is allowed).
    """

    task: Task
    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[ToolSpec]
    turn: int
    seed: int
    results: Sequence[ToolResult] = ()
    episode_id: str = ""
    interactive: bool = False


@runtime_checkable
class Policy(Protocol):
    """Produce assistant turns. Implementations keep no per-episode state: the view carries it.

    `act` raises `ModelError` when the model server fails for good (each
    attempt under its own deadline), `ContextLengthExceeded` when the
    conversation no longer fits, and `MalformedOutput` when a reply is not a turn.
    """

    @property
    def name(self) -> str:
        """A short name for records and reports (`oracle`, `litellm`, ...)."""
        ...

    @property
    def model(self) -> str | None:
        """The model behind the policy, if any."""
        ...

    async def act(self, view: PolicyView) -> AssistantTurn: ...


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A picklable description of a policy, built where the episodes run (this process or a Ray worker).

    `name` is `oracle`, `random`, `replay` or `litellm`; `options` go to the
    policy's constructor (for litellm: `model`, `api_base`, `api_key`, ...).
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str | None:
        model = self.options.get("model")
        return model if isinstance(model, str) else None

    def build(self) -> Policy:
        """Construct the policy; raise `ValueError` for an unknown name."""
        options = dict(self.options)
        if self.name == "oracle":
            from harness.policies.oracle import OraclePolicy

            return OraclePolicy(**options)
        if self.name == "random":
            from harness.policies.random import RandomPolicy

            return RandomPolicy(**options)
        if self.name == "replay":
            from harness.policies.replay import ReplayPolicy

            return ReplayPolicy.from_file(options.pop("records"), **options)
        if self.name == "litellm":
            from harness.policies.llm import LiteLLMPolicy

            return LiteLLMPolicy(**options)
        if self.name.startswith("trivial-"):
            from harness.policies.trivial import TrivialPolicy

            return TrivialPolicy(self.name.removeprefix("trivial-"))
        raise ValueError(f"unknown policy {self.name!r} (oracle, random, replay, litellm or trivial-<kind>)")
