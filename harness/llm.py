"""The one layer that calls models: litellm, with retries, deadlines, error mapping and turn parsing.

The harness's policies and simulated users and mcpfactory's synthesis all
call models through `complete`, so every model call is retried, timed and
classified the same way:

- one attempt has one deadline (`LLMConfig.timeout`); retries get their own;
- 429, 5xx, timeouts and dropped connections are retried `max_retries` times,
  waiting the server's `Retry-After` or an exponential backoff with jitter
  (so parallel episodes do not retry in step);
- anything else fails at once, mapped to a `ModelError` whose `kind` says
  what happened: `auth` (401/403: a key is missing or wrong), `context_length`
  (`ContextLengthExceeded`), `bad_request`, or, after the retries,
  `rate_limit`, `server`, `timeout`, `connection`.

litellm is imported once (`import_litellm`, seconds), with its bundled cost map
so that it never reaches for the network; callers warm it up before any
deadline starts (`warm_up`). An OpenAI-compatible server reached through
`api_base` with no key (a local vLLM or SGLang) gets a placeholder key, since
litellm's `openai/` provider refuses to send a request without one.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from harness.conversation import AssistantTurn, TokenData, ToolCall
from harness.errors import ContextLengthExceeded, MalformedOutput, ModelError, ModelErrorKind

__all__ = ["PLACEHOLDER_API_KEY", "Completion", "LLMConfig", "complete", "import_litellm", "parse_response", "warm_up"]

PLACEHOLDER_API_KEY = "sk-no-key-needed"
"""Sent to an `api_base` server when no key is given: local servers need none, litellm insists on one."""

_CONTEXT_MARKERS = ("context length", "context_length", "maximum context", "context window", "too many tokens")


def import_litellm() -> Any:
    """Import litellm without letting it fetch a cost map from the network or print banners."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banner on stderr for every scripted 429
    return litellm


async def warm_up() -> None:
    """Import litellm (and the OpenAI client) off the event loop, before any episode's deadline starts."""
    await anyio.to_thread.run_sync(import_litellm)


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Where and how to call a model.

    `model` is a litellm model name; an OpenAI-compatible server (vLLM,
    SGLang, a fake) is `openai/<served name>` with `api_base`. `timeout` is
    the deadline of one attempt. `seed` is sent to the sampler when set (the
    episode's seed, so a sample can be drawn again). `extra` goes to litellm
    as it is (`extra_body` is merged).
    """

    model: str
    api_base: str | None = None
    api_key: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    timeout: float = 120.0
    max_retries: int = 4
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    logprobs: bool = False
    return_token_ids: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def sampler(self) -> dict[str, Any]:
        """The settings that decide how a sample is drawn (recorded with every run and record)."""
        return {
            "model": self.model,
            "api_base": self.api_base,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "logprobs": self.logprobs,
            "return_token_ids": self.return_token_ids,
            "extra": dict(self.extra),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.sampler(), "timeout": self.timeout, "max_retries": self.max_retries}


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's response, how many attempts it took and how long they lasted in all."""

    response: Any
    attempts: int
    latency_s: float


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _classify(exc: BaseException) -> tuple[ModelErrorKind, bool]:
    """What kind of failure `exc` is, and whether another attempt may succeed."""
    import openai

    litellm = import_litellm()
    status = _status(exc)
    text = str(exc).lower()
    if isinstance(exc, litellm.ContextWindowExceededError) or (
        status in (400, 413, 422) and any(marker in text for marker in _CONTEXT_MARKERS)
    ):
        return "context_length", False
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError) or status in (401, 403):
        return "auth", False
    if "missing credentials" in text or "api_key client option must be set" in text:
        return "auth", False  # litellm reports a missing key as a 500 before sending anything
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", True
    if isinstance(exc, openai.APIConnectionError):
        return "connection", True
    if status == 429:
        return "rate_limit", True
    if status is not None and status >= 500:
        return "server", True
    return "bad_request", False


def request(config: LLMConfig, messages: Sequence[Mapping[str, Any]], **options: Any) -> dict[str, Any]:
    """The keyword arguments of one `litellm.acompletion` request."""
    kwargs: dict[str, Any] = {
        "model": config.model,
        "messages": [dict(message) for message in messages],
        # litellm's own retries would hide 429s from the backoff here and rebuild the client per call.
        "max_retries": 0,
        # The deadline is ours (`fail_after`); litellm's is a backstop that must not fire first.
        "timeout": config.timeout + 5.0,
    }
    if config.api_base:
        kwargs["api_base"] = config.api_base
    api_key = config.api_key or (PLACEHOLDER_API_KEY if config.api_base else None)
    if api_key:
        kwargs["api_key"] = api_key
    for name in ("temperature", "top_p", "max_tokens"):
        if getattr(config, name) is not None:
            kwargs[name] = getattr(config, name)
    if config.logprobs:
        kwargs["logprobs"] = True
    extra_body = dict(config.extra.get("extra_body") or {})
    if config.return_token_ids:
        extra_body["return_token_ids"] = True
    if extra_body:
        kwargs["extra_body"] = extra_body
    kwargs.update({key: value for key, value in config.extra.items() if key != "extra_body"})
    kwargs.update({key: value for key, value in options.items() if value is not None})
    return kwargs


async def complete(
    config: LLMConfig,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    response_format: Mapping[str, Any] | None = None,
    seed: int | None = None,
    on_retry: Any = None,
) -> Completion:
    """Call the model once, with retries; return the response with its attempts and latency.

    Raises `ModelError` (its `kind` says why; `ContextLengthExceeded` for a
    conversation that no longer fits) when the request is refused or the
    retries run out. Never raises `TimeoutError`: a deadline is an attempt's.
    `on_retry(attempt, failure, delay)` is called before each retry.
    """
    import openai

    litellm = import_litellm()
    kwargs = request(
        config,
        messages,
        tools=list(tools) if tools else None,
        response_format=dict(response_format) if response_format is not None else None,
        seed=seed,
    )
    started = time.perf_counter()
    attempt = 0
    while True:
        attempt += 1
        retry_after: float | None = None
        status: int | None = None
        try:
            with anyio.fail_after(config.timeout):
                response = await litellm.acompletion(**kwargs)
            return Completion(response, attempt, time.perf_counter() - started)
        except TimeoutError:
            kind: ModelErrorKind = "timeout"
            failure = f"no reply within {config.timeout:g} s"
            retryable = True
        except openai.OpenAIError as exc:
            kind, retryable = _classify(exc)
            status = _status(exc)
            failure = f"{type(exc).__name__} (status {status}): {str(exc)[:300]}"
            retry_after = _retry_after(exc)
            if not retryable:
                error = ContextLengthExceeded if kind == "context_length" else ModelError
                hint = " (check the API key: --api-key or the provider's variable)" if kind == "auth" else ""
                raise error(
                    f"{config.model}: {kind}: {failure}{hint}",
                    kind=kind,
                    status=status,
                    attempts=attempt,
                    model=config.model,
                ) from exc
        if attempt > config.max_retries:
            raise ModelError(
                f"{config.model}: {kind}: {failure}, after {attempt} attempt(s)",
                kind=kind,
                status=status,
                attempts=attempt,
                model=config.model,
            )
        delay = retry_after
        if delay is None:
            delay = min(config.backoff_max_s, config.backoff_s * 2 ** (attempt - 1))
            delay *= random.uniform(0.5, 1.0)  # jitter, so parallel callers do not retry in step
        if on_retry is not None:
            on_retry(attempt, failure, delay)
        if delay > 0:
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
        raw_text: str | Mapping[str, Any] = dict(raw) if isinstance(raw, Mapping) else ("" if raw is None else str(raw))
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
