"""The conversation an episode keeps: OpenAI-format messages, assistant turns, tool calls and token data."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AssistantTurn", "TokenData", "ToolCall", "assistant_message", "parse_arguments", "tool_message"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call as the model wrote it.

    `raw_arguments` is the exact string the model produced (kept so the
    conversation can be replayed token for token); `arguments` is its decoded
    object, or None when it is not a JSON object, with `parse_error` saying why.
    """

    id: str
    name: str
    raw_arguments: str
    arguments: Mapping[str, Any] | None
    parse_error: str | None = None

    @classmethod
    def make(cls, id: str, name: str, arguments: Mapping[str, Any] | str | None) -> ToolCall:
        """Build a call from decoded arguments or from the model's raw argument string."""
        if isinstance(arguments, str):
            decoded, error = parse_arguments(arguments)
            return cls(id, name, arguments, decoded, error)
        decoded_args = dict(arguments or {})
        return cls(id, name, json.dumps(decoded_args, ensure_ascii=False), decoded_args)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.raw_arguments}}


def parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """Decode a model's argument string: an empty string is `{}`; anything but an object is an error."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"arguments are not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(value, dict):
        return None, f"arguments must be a JSON object, not {type(value).__name__}"
    return value, None


@dataclass(frozen=True, slots=True)
class TokenData:
    """Token-level data of one model call, when the model server returns it (vLLM, SGLang)."""

    prompt_ids: Sequence[int] | None = None
    completion_ids: Sequence[int] | None = None
    completion_logprobs: Sequence[float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt_ids": list(self.prompt_ids) if self.prompt_ids is not None else None,
            "completion_ids": list(self.completion_ids) if self.completion_ids is not None else None,
            "completion_logprobs": list(self.completion_logprobs) if self.completion_logprobs is not None else None,
        }


@dataclass(frozen=True, slots=True)
class AssistantTurn:
    """One assistant turn: text, tool calls (possibly several, to run in order), and what the model server said."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    tokens: TokenData | None = None
    usage: Mapping[str, int] | None = None
    attempts: int = 1
    latency_s: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.tool_calls and not (self.content or "").strip()


def assistant_message(turn: AssistantTurn) -> dict[str, Any]:
    """Return the OpenAI-format message of an assistant turn."""
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    if turn.tool_calls:
        message["tool_calls"] = [call.to_json() for call in turn.tool_calls]
    return message


def tool_message(call_id: str, content: str) -> dict[str, Any]:
    """Return the OpenAI-format message carrying a tool call's result."""
    return {"role": "tool", "tool_call_id": call_id, "content": content}
