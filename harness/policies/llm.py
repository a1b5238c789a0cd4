"""The litellm policy: any provider, or an OpenAI-compatible server (vLLM, SGLang) through `api_base`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness._llm import LLMConfig, complete, parse_response
from harness.conversation import AssistantTurn
from harness.policies.base import PolicyView

__all__ = ["LiteLLMPolicy"]


class LiteLLMPolicy:
    """Ask a chat model for the next turn, offering the environment's tools in OpenAI format.

    Parallel tool calls come back as one turn with several calls. Rate limits
    (429), 5xx and dropped connections are retried with backoff; any other
    refusal raises `ModelError`; an attempt past `timeout` raises `TimeoutError`.
    With `logprobs` / `return_token_ids` (vLLM), token ids, logprobs and finish
    reasons are kept on the turn.

    Tools are converted by `ToolSpec.to_openai`, the same normalisation as
    `litellm.mcp_client.tools.transform_mcp_tool_to_openai_tool`, kept in the
    harness so that recording and exporting never import litellm.
    """

    name = "litellm"

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        logprobs: bool = False,
        return_token_ids: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.model: str | None = model
        self.config = LLMConfig(
            model=model,
            api_base=api_base,
            api_key=api_key,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout,
            max_retries=max_retries,
            backoff_s=backoff_s,
            backoff_max_s=backoff_max_s,
            logprobs=logprobs,
            return_token_ids=return_token_ids,
            extra=dict(extra or {}),
        )
        self._tools_cache: dict[str, list[dict[str, Any]]] = {}

    async def act(self, view: PolicyView) -> AssistantTurn:
        tools = self._tools_cache.get(view.task.env)
        if tools is None:
            tools = self._tools_cache[view.task.env] = [tool.to_openai() for tool in view.tools]
        response, attempts, latency = await complete(self.config, view.messages, tools)
        return parse_response(response, attempts=attempts, latency_s=latency)
