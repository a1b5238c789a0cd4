"""The litellm policy: any provider, or an OpenAI-compatible server (vLLM, SGLang) through `api_base`."""

from __future__ import annotations

from typing import Any

from harness.conversation import AssistantTurn
from harness.llm import LLMConfig, complete, parse_response, warm_up
from harness.policies.base import PolicyView

__all__ = ["LiteLLMPolicy"]


class LiteLLMPolicy:
    """Ask a chat model for the next turn, offering the environment's tools in OpenAI format.

    Every request goes through the one model layer (`harness.llm`): each
    attempt has its own deadline (`LLMConfig.timeout`), 429/5xx/timeouts are
    retried with jittered backoff, anything else raises `ModelError` at once
    (`ContextLengthExceeded` for a conversation that no longer fits). The
    episode's seed is sent to the sampler, so a sample can be drawn again;
    with `logprobs` / `return_token_ids` (vLLM), token ids, logprobs and
    finish reasons are kept on the turn.

    Tools are converted by `ToolSpec.to_openai`, the same normalisation as
    `litellm.mcp_client.tools.transform_mcp_tool_to_openai_tool`, kept in the
    harness so that recording and exporting never import litellm.
    """

    name = "litellm"

    def __init__(self, model: str, *, send_seed: bool = True, **options: Any) -> None:
        self.model: str | None = model
        self.config = LLMConfig(model=model, **options)
        self.send_seed = send_seed
        self._tools_cache: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}

    def sampler(self) -> dict[str, Any]:
        """How samples are drawn: the model, its settings, and whether the episode seed is sent."""
        return {**self.config.sampler(), "send_seed": self.send_seed}

    async def warm_up(self) -> None:
        """Import litellm before the first episode, so no episode's deadline pays for it."""
        await warm_up()

    async def act(self, view: PolicyView) -> AssistantTurn:
        key = (view.task.env, tuple(tool.name for tool in view.tools))
        tools = self._tools_cache.get(key)
        if tools is None:
            tools = self._tools_cache[key] = [tool.to_openai() for tool in view.tools]
        completion = await complete(self.config, view.messages, tools=tools, seed=view.seed if self.send_seed else None)
        return parse_response(completion.response, attempts=completion.attempts, latency_s=completion.latency_s)
