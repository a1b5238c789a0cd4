"""An optional simulated user (tau-bench style): a model playing the task's user scenario, off by default.

The agent's answers without tool calls go to the user; the user replies until
it ends the conversation by writing the stop token. The user sees only the
text of the conversation, with the roles swapped (its own lines are the
assistant's), never the tool calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness._llm import LLMConfig, complete, parse_response
from harness.errors import MalformedOutput
from harness.tasks import Task

__all__ = ["STOP_TOKEN", "LiteLLMUser", "UserReply", "UserSimulator"]

STOP_TOKEN = "###STOP###"

_PROMPT = """You are a user talking to a customer-service agent. Stay in character; do not invent
facts beyond your scenario. Say one short message at a time. When your request is
fully handled, or cannot be handled, write {stop} alone on its own line.

Your scenario:
{scenario}"""


@dataclass(frozen=True, slots=True)
class UserReply:
    """The user's next message, and whether it ended the conversation."""

    text: str
    stop: bool


class UserSimulator(Protocol):
    """Produce the user's next message given the conversation so far."""

    async def reply(self, task: Task, messages: Sequence[Mapping[str, Any]]) -> UserReply: ...


def flip_roles(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the text turns of the conversation as the user sees them (assistant <-> user)."""
    flipped = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            continue
        if message.get("role") == "assistant":
            flipped.append({"role": "user", "content": content})
        elif message.get("role") == "user":
            flipped.append({"role": "assistant", "content": content})
    return flipped


class LiteLLMUser:
    """A user played by a chat model through litellm, prompted with `task.user_scenario`."""

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None, **options: Any) -> None:
        self.config = LLMConfig(model=model, api_base=api_base, api_key=api_key, **options)

    async def reply(self, task: Task, messages: Sequence[Mapping[str, Any]]) -> UserReply:
        scenario = task.user_scenario or task.instruction
        conversation = [
            {"role": "system", "content": _PROMPT.format(stop=STOP_TOKEN, scenario=scenario)},
            *flip_roles(messages),
        ]
        response, attempts, latency = await complete(self.config, conversation)
        turn = parse_response(response, attempts=attempts, latency_s=latency)
        if turn.content is None:
            raise MalformedOutput("the simulated user replied with no text")
        text = turn.content
        stop = STOP_TOKEN in text
        return UserReply(text=text.replace(STOP_TOKEN, "").strip(), stop=stop)
