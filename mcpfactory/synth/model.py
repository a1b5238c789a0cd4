"""One interface to a chat model, over litellm: retries, structured output, accounting, record/replay.

litellm is imported on the first request (it takes seconds), with its bundled
cost map so that it never reaches for the network at import.

- `Model.chat(messages)` sends one request and returns its text.
- `Model.json(messages, schema)` asks for a JSON value that validates against
  `schema`: through the provider's JSON Schema response format where it takes
  one, else (or when the reply does not validate) through a plain-text request
  whose JSON is extracted and validated, with the problems fed back once more.
- Every request goes through the `ResponseCache` when one is configured:
  `record` stores replies, `replay` serves only stored replies and raises
  `CacheMiss` for anything else, so a recorded run reproduces offline.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jsonschema

from harness.errors import ModelError
from harness.llm import LLMConfig, complete, import_litellm
from mcpfactory.synth._cache import CacheMode, ResponseCache, request_key
from mcpfactory.synth._errors import CacheMiss, OutputError
from mcpfactory.synth._extract import extract_json
from mcpfactory.synth._prompts import render

__all__ = ["Message", "Model", "ModelConfig", "Reply", "Usage"]

log = logging.getLogger("mcpfactory.synth.model")

Message = Mapping[str, Any]
Structured = Literal["auto", "json_schema", "text"]


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Which model to ask and how.

    `model` is a litellm model name; an OpenAI-compatible server (vLLM, SGLang,
    a fake) is `openai/<name>` with `api_base`. `timeout_s` bounds one attempt;
    `max_retries` counts the retries of 429, 5xx, timeouts and connection
    failures, waiting `backoff_s * 2**n` (at most `backoff_max_s`, or the
    server's Retry-After). `structured` picks how `json()` asks: `auto` tries
    the response format and falls back to text; `text` never sends one.
    """

    model: str
    api_base: str | None = None
    api_key: str | None = None
    temperature: float | None = 0.0
    max_tokens: int | None = None
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    structured: Structured = "auto"
    json_attempts: int = 2
    cache_dir: Path | None = None
    cache_mode: CacheMode = "record"


@dataclass(slots=True)
class Usage:
    """What a `Model` has spent: requests sent, cache hits, tokens and dollars (of priced requests)."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_requests: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "unpriced_requests": self.unpriced_requests,
        }


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer: its text, the parsed value for `json()`, and what it cost.

    `transcript` lists every request and reply that produced it (a `json()`
    call may take several), for run logs.
    """

    text: str
    data: Any = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cached: bool = False
    mode: Literal["chat", "json_schema", "text"] = "chat"
    transcript: tuple[dict[str, Any], ...] = field(default=(), repr=False)


class _StructuredRefused(Exception):
    """The provider refused the response format (a 400 on a request that carried one)."""


class Model:
    """A chat model behind litellm, with the cache, retries and accounting of `ModelConfig`."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.usage = Usage()
        self.cache = ResponseCache(config.cache_dir, config.cache_mode) if config.cache_dir is not None else None
        self._structured_refused = config.structured == "text"

    # ------------------------------------------------------------------ requests

    async def chat(self, messages: Sequence[Message]) -> Reply:
        """Send the conversation; return the reply's text. Raise `ModelError` when the model cannot answer."""
        reply = await self._request(list(messages), None)
        return _with_transcript(reply, "chat", [_exchange(messages, reply)])

    async def json(self, messages: Sequence[Message], schema: Mapping[str, Any], *, name: str = "reply") -> Reply:
        """Ask for a JSON value valid against `schema`; `Reply.data` holds it.

        Raise `OutputError` when no attempt yields a valid value (its `problems`
        say why), `ModelError` when the model cannot be reached.
        """
        validator = jsonschema.Draft202012Validator(dict(schema))
        transcript: list[dict[str, Any]] = []
        if not self._structured_refused:
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": dict(schema), "strict": False},
            }
            try:
                reply = await self._request(list(messages), response_format)
            except _StructuredRefused as refused:
                log.info("%s refused the JSON Schema response format (%s); asking in text", self.config.model, refused)
                self._structured_refused = True
            else:
                transcript.append(_exchange(messages, reply, response_format))
                data, problems = _parse(reply.text, validator)
                if not problems:
                    return _with_transcript(_with_data(reply, data), "json_schema", transcript)
                log.info("structured reply did not validate (%s); asking in text", "; ".join(problems))
        conversation = [*messages, {"role": "user", "content": render("json_reply", schema=_pretty(schema))}]
        problems = []
        text = ""
        for attempt in range(max(1, self.config.json_attempts)):
            reply = await self._request(conversation, None)
            transcript.append(_exchange(conversation, reply))
            text = reply.text
            data, problems = _parse(reply.text, validator)
            if not problems:
                return _with_transcript(_with_data(reply, data), "text", transcript)
            if attempt + 1 < self.config.json_attempts:
                conversation = [
                    *conversation,
                    {"role": "assistant", "content": reply.text},
                    {"role": "user", "content": render("json_retry", problems="; ".join(problems))},
                ]
        raise OutputError(
            f"{self.config.model}: no valid JSON after {len(transcript)} request(s): {'; '.join(problems)}",
            text=text,
            problems=problems,
        )

    # ------------------------------------------------------------------ one request

    def _request_body(self, messages: list[Message], response_format: Mapping[str, Any] | None) -> dict[str, Any]:
        """What decides the reply: the cache key's source, and the request's content."""
        body: dict[str, Any] = {"model": self.config.model, "messages": [dict(m) for m in messages]}
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        if self.config.max_tokens is not None:
            body["max_tokens"] = self.config.max_tokens
        if response_format is not None:
            body["response_format"] = dict(response_format)
        return body

    async def _request(self, messages: list[Message], response_format: Mapping[str, Any] | None) -> Reply:
        body = self._request_body(messages, response_format)
        key = request_key(body)
        if self.cache is not None:
            stored = self.cache.get(key)
            if stored is not None:
                self.usage.cache_hits += 1
                if stored.get("refused_response_format"):
                    raise _StructuredRefused(str(stored.get("error", "")))
                return Reply(
                    text=str(stored.get("text", "")),
                    finish_reason=stored.get("finish_reason"),
                    prompt_tokens=int(stored.get("prompt_tokens") or 0),
                    completion_tokens=int(stored.get("completion_tokens") or 0),
                    cost_usd=stored.get("cost_usd"),
                    cached=True,
                )
            if self.cache.mode == "replay":
                assert self.config.cache_dir is not None
                raise CacheMiss(model=self.config.model, key=key, cache_dir=self.config.cache_dir)
        try:
            response = await self._send(body)
        except _StructuredRefused as refused:
            if self.cache is not None:
                self.cache.put(key, body, {"refused_response_format": True, "error": str(refused)})
            raise
        reply = self._account(response)
        if self.cache is not None:
            self.cache.put(
                key,
                body,
                {
                    "text": reply.text,
                    "finish_reason": reply.finish_reason,
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "cost_usd": reply.cost_usd,
                },
            )
        return reply

    async def _send(self, body: dict[str, Any]) -> Any:
        """Call the model through the one model layer; raise `ModelError` when it cannot answer."""
        config = self.config
        llm = LLMConfig(
            model=config.model,
            api_base=config.api_base,
            api_key=config.api_key,
            temperature=body.get("temperature"),
            max_tokens=body.get("max_tokens"),
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            backoff_s=config.backoff_s,
            backoff_max_s=config.backoff_max_s,
        )

        def retried(attempt: int, failure: str, delay: float) -> None:
            self.usage.retries += 1
            log.info("%s: %s; retry %d in %.2f s", config.model, failure, attempt, delay)

        try:
            completion = await complete(
                llm, body["messages"], response_format=body.get("response_format"), on_retry=retried
            )
        except ModelError as exc:
            self.usage.requests += exc.attempts
            if "response_format" in body and exc.status in (400, 422) and exc.kind == "bad_request":
                raise _StructuredRefused(f"status {exc.status}: {exc}") from exc
            raise
        self.usage.requests += completion.attempts
        return completion.response

    def _account(self, response: Any) -> Reply:
        litellm = import_litellm()
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        cost: float | None
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except (litellm.exceptions.ModelNotMappedError, litellm.exceptions.NotFoundError, ValueError, KeyError):
            cost = None  # a model without a price (a local server): counted, not guessed
        self.usage.prompt_tokens += prompt
        self.usage.completion_tokens += completion
        if cost is None:
            self.usage.unpriced_requests += 1
        else:
            self.usage.cost_usd += cost
        return Reply(
            text=text,
            finish_reason=getattr(choice, "finish_reason", None),
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=cost,
        )


def _parse(text: str, validator: jsonschema.Draft202012Validator) -> tuple[Any, list[str]]:
    try:
        data = extract_json(text)
    except ValueError as exc:
        return None, [str(exc)]
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ][:10]
    return data, problems


def _pretty(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=1, ensure_ascii=False)


def _with_data(reply: Reply, data: Any) -> Reply:
    return Reply(
        text=reply.text,
        data=data,
        finish_reason=reply.finish_reason,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        cost_usd=reply.cost_usd,
        cached=reply.cached,
    )


def _with_transcript(
    reply: Reply, mode: Literal["chat", "json_schema", "text"], transcript: list[dict[str, Any]]
) -> Reply:
    return Reply(
        text=reply.text,
        data=reply.data,
        finish_reason=reply.finish_reason,
        prompt_tokens=sum(int(t["prompt_tokens"]) for t in transcript),
        completion_tokens=sum(int(t["completion_tokens"]) for t in transcript),
        cost_usd=reply.cost_usd if len(transcript) == 1 else _total_cost(transcript),
        cached=all(bool(t["cached"]) for t in transcript),
        mode=mode,
        transcript=tuple(transcript),
    )


def _total_cost(transcript: list[dict[str, Any]]) -> float | None:
    costs = [t["cost_usd"] for t in transcript]
    return None if any(c is None for c in costs) else float(sum(costs))


def _exchange(
    messages: Sequence[Message], reply: Reply, response_format: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "messages": [dict(m) for m in messages],
        "response_format": dict(response_format) if response_format is not None else None,
        "reply": reply.text,
        "finish_reason": reply.finish_reason,
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "cost_usd": reply.cost_usd,
        "cached": reply.cached,
    }
