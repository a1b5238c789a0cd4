"""Simulated users: who the agent talks to, playing a task's user scenario (`Task.user`).

The agent's first user message is the scenario's `opening`, never the
solution. When the agent answers without tool calls, the user replies, until
it ends the conversation. Two users:

- `ScriptedUser`, deterministic and offline (the default): it answers a
  request to confirm with the scenario's `confirm`, sends the scenario's
  scripted `turns` one after another, answers a question with the next thing
  it `knows` that it has not said yet, and otherwise ends the conversation.
  For a task judged turn by turn (BFCL's multi-turn), it sends the next turn
  after every answer, whatever the answer said.
- `LiteLLMUser`, a chat model playing the scenario (tau-bench style), through
  the one model layer (`harness.llm`). It sees only the text of the
  conversation, roles swapped, never the tool calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.errors import MalformedOutput
from harness.llm import LLMConfig, complete, parse_response
from mcpfactory.runtime import Task, UserScenario

__all__ = ["STOP_TOKEN", "LiteLLMUser", "ScriptedUser", "UserReply", "UserSimulator", "asks_to_confirm"]

STOP_TOKEN = "###STOP###"

# "Shall I proceed?", "Please confirm you want this", but not "Could you confirm your email?" (a request for a detail).
_CONFIRM = re.compile(
    r"\b(confirm(?!\s+(your|the\s+(spelling|email|name|number|address|id)))|proceed|go ahead|shall i|should i"
    r"|do you want me to|would you like me to|is that (ok|okay|correct|right))\b"
)


def asks_to_confirm(text: str) -> bool:
    """Whether an assistant message asks the user to confirm an action (a question about going ahead)."""
    lowered = text.casefold()
    return "?" in lowered and bool(_CONFIRM.search(lowered))


@dataclass(frozen=True, slots=True)
class UserReply:
    """The user's next message, and whether it ended the conversation."""

    text: str
    stop: bool


class UserSimulator(Protocol):
    """Produce the user's next message given the conversation so far."""

    @property
    def name(self) -> str: ...

    async def reply(self, task: Task, messages: Sequence[Mapping[str, Any]]) -> UserReply: ...


def _said(messages: Sequence[Mapping[str, Any]], role: str) -> list[str]:
    return [str(m.get("content") or "") for m in messages if m.get("role") == role and m.get("content")]


class ScriptedUser:
    """A deterministic user that follows its scenario: confirms when asked, sends scripted turns, then stops."""

    name = "scripted"

    async def reply(self, task: Task, messages: Sequence[Mapping[str, Any]]) -> UserReply:
        scenario = task.user or UserScenario(opening=task.instruction)
        assistant = _said(messages, "assistant")
        last = assistant[-1] if assistant else ""
        said = set(_said(messages, "user"))
        if task.judge.kind == "turns":
            # A turn-by-turn task (BFCL's multi-turn): the next turn follows each answer, whatever it said.
            upcoming = [turn for turn in scenario.turns if turn not in said]
            return UserReply(upcoming[0], stop=False) if upcoming else UserReply("", stop=True)
        if asks_to_confirm(last):
            return UserReply(scenario.confirm, stop=False)
        for turn in scenario.turns:
            if turn not in said:
                return UserReply(turn, stop=False)
        if "?" in last:
            for fact in scenario.known:
                if fact not in said:
                    return UserReply(fact, stop=False)
        return UserReply("", stop=True)


_PROMPT = """You are playing a user who talks to a customer-service agent. Stay in character and say one short
message at a time. Never invent facts beyond your scenario; if the agent asks for something you do
not know, say you do not know. Do not reveal everything at once: answer what you are asked.
When your goal is met, or the agent says it cannot be met, write {stop} alone on its own line.

Your goal: {goal}
What you know: {known}
What you do not know: {unknown}
Who you are: {persona}
If the agent asks you to confirm an action that matches your goal, answer: {confirm}
When to end the conversation: {stop_when}"""


class LiteLLMUser:
    """A user played by a chat model through `harness.llm`, prompted with the task's scenario."""

    name = "litellm"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    def prompt(self, task: Task) -> str:
        scenario = task.user
        if scenario is None:
            return _PROMPT.format(
                stop=STOP_TOKEN,
                goal=task.instruction,
                known="-",
                unknown="-",
                persona="-",
                confirm="yes",
                stop_when="-",
            )
        return _PROMPT.format(
            stop=STOP_TOKEN,
            goal=scenario.goal or task.instruction,
            known="; ".join(scenario.known) or "-",
            unknown="; ".join(scenario.unknown) or "-",
            persona=scenario.persona or "-",
            confirm=scenario.confirm,
            stop_when=scenario.stop or "when your goal is met",
        )

    async def reply(self, task: Task, messages: Sequence[Mapping[str, Any]]) -> UserReply:
        conversation = [{"role": "system", "content": self.prompt(task)}, *flip_roles(messages)]
        completion = await complete(self.config, conversation)
        turn = parse_response(completion.response, attempts=completion.attempts, latency_s=completion.latency_s)
        if turn.content is None:
            raise MalformedOutput("the simulated user replied with no text")
        stop = STOP_TOKEN in turn.content
        return UserReply(text=turn.content.replace(STOP_TOKEN, "").strip(), stop=stop)


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
