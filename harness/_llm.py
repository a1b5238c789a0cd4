"""One chat-completion call through litellm, with retries on rate limits and 5xx, and a parsed turn.

litellm is imported on first use (it takes seconds), after pointing it at its
bundled cost map so that it never reaches for the network at import.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from harness.conversation import AssistantTurn, TokenData, ToolCall
from harness.errors import MalformedOutput, ModelError

__all__ = ["LLMConfig", "complete", "import_litellm", "parse_response"]


def import_litellm() -> Any:
    """Import litellm without letting it fetch a cost map from the network."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banner on stderr for every scripted 429
    return litellm


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Where and how to call a model. `timeout` is the deadline of one attempt."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 120.0
    max_retries: int = 4
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    logprobs: bool = False
    return_token_ids: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "api_base": self.api_base,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "logprobs": self.logprobs,
            "return_token_ids": self.return_token_ids,
        }


def _retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return True
    if isinstance(exc, openai.APIConnectionError):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def complete(
    config: LLMConfig, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
) -> tuple[Any, int, float]:
    """Call the model; return `(response, attempts, seconds)`.

    Retries 429, 5xx and connection failures with exponential backoff (or the
    server's Retry-After); raises `ModelError` when retries run out or on any
    other refusal, and `TimeoutError` when one attempt passes `config.timeout`.
    """
    import openai

    litellm = import_litellm()
    kwargs: dict[str, Any] = {
        "model": config.model,
        "messages": list(messages),
        # litellm's own retries rebuild the HTTP client per call (~30 ms each); retry here instead.
        "max_retries": 0,
        # The deadline is ours (below); litellm's is a backstop that must not fire first and be retried.
        "timeout": config.timeout + 5.0,
    }
    if tools:
        kwargs["tools"] = list(tools)
    if config.api_base:
        kwargs["api_base"] = config.api_base
    if config.api_key:
        kwargs["api_key"] = config.api_key
    if config.temperature is not None:
        kwargs["temperature"] = config.temperature
    if config.max_tokens is not None:
        kwargs["max_tokens"] = config.max_tokens
    if config.logprobs:
        kwargs["logprobs"] = True
    extra_body = dict(config.extra.get("extra_body") or {})
    if config.return_token_ids:
        extra_body["return_token_ids"] = True
    if extra_body:
        kwargs["extra_body"] = extra_body
    kwargs.update({k: v for k, v in config.extra.items() if k != "extra_body"})

    started = time.perf_counter()
    attempt = 0
    while True:
        attempt += 1
        try:
            with anyio.fail_after(config.timeout):
                response = await litellm.acompletion(**kwargs)
            return response, attempt, time.perf_counter() - started
        except openai.OpenAIError as exc:
            status = getattr(exc, "status_code", None)
            if not _retryable(exc) or attempt > config.max_retries:
                raise ModelError(
                    f"{config.model}: {type(exc).__name__} (status {status}) after {attempt} attempt(s): {exc}",
                    status=status if isinstance(status, int) else None,
                    attempts=attempt,
                ) from exc
            delay = _retry_after(exc)
            if delay is None:
                delay = min(config.backoff_max_s, config.backoff_s * 2 ** (attempt - 1))
            await anyio.sleep(delay)


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "provider_specific_fields", None)
        if isinstance(extra, Mapping):
            value = extra.get(name)
    return value


def _tokens(response: Any, choice: Any) -> TokenData | None:
    prompt_ids = _field(response, "prompt_token_ids")
    completion_ids = _field(choice, "token_ids")
    logprobs: list[float] | None = None
    content = getattr(_field(choice, "logprobs"), "content", None)
    if content is None and isinstance(_field(choice, "logprobs"), Mapping):
        content = _field(choice, "logprobs").get("content")
    if content:
        logprobs = [float(_field(item, "logprob")) for item in content]
        if completion_ids is None:
            # vLLM's --return-tokens-as-token-ids writes each token as "token_id:<n>".
            tokens = [str(_field(item, "token")) for item in content]
            if all(token.startswith("token_id:") for token in tokens):
                completion_ids = [int(token.split(":", 1)[1]) for token in tokens]
    if prompt_ids is None and completion_ids is None and logprobs is None:
        return None
    return TokenData(prompt_ids=prompt_ids, completion_ids=completion_ids, completion_logprobs=logprobs)


def parse_response(response: Any, *, attempts: int = 1, latency_s: float = 0.0) -> AssistantTurn:
    """Turn a chat-completion response into an assistant turn; raise `MalformedOutput` if it holds none."""
    choices = _field(response, "choices")
    if not choices:
        raise MalformedOutput("the model's response has no choices")
    choice = choices[0]
    message = _field(choice, "message")
    if message is None:
        raise MalformedOutput("the model's response has no message")
    calls = []
    for index, call in enumerate(_field(message, "tool_calls") or []):
        function = _field(call, "function")
        name = _field(function, "name") if function is not None else None
        raw = _field(function, "arguments") if function is not None else None
        call_id = _field(call, "id") or f"call_{index}"
        if isinstance(raw, Mapping):
            raw_text: str | Mapping[str, Any] = dict(raw)
        else:
            raw_text = "" if raw is None else str(raw)
        made = ToolCall.make(str(call_id), str(name or ""), raw_text)
        if not name:
            made = ToolCall(made.id, "", made.raw_arguments, None, "the tool call names no function")
        calls.append(made)
    usage = _field(response, "usage")
    usage_json: dict[str, int] | None = None
    if usage is not None:
        usage_json = {
            key: int(value)
            for key in ("prompt_tokens", "completion_tokens", "total_tokens")
            if isinstance(value := _field(usage, key), int)
        }
    content = _field(message, "content")
    return AssistantTurn(
        content=content if isinstance(content, str) else None,
        tool_calls=tuple(calls),
        finish_reason=_field(choice, "finish_reason"),
        tokens=_tokens(response, choice),
        usage=usage_json,
        attempts=attempts,
        latency_s=latency_s,
    )
