"""Trivial agents: policies that do not do the task, to prove that no task rewards them.

The same adversaries the verifier plays against every task
(`mcpfactory.runtime.TRIVIAL_ANSWERS`): saying nothing, a generic refusal, a
bare "done", and calling the first tool with `{}` turn after turn. Their
success is the floor a task set must keep near zero; `mcpfactory demo` and
`benchmarks/trivial_agents.py` report it.
"""

from __future__ import annotations

from typing import Literal

from harness.conversation import AssistantTurn, ToolCall
from harness.policies.base import PolicyView
from mcpfactory.runtime import TRIVIAL_ANSWERS

__all__ = ["TRIVIAL_KINDS", "TrivialPolicy"]

TrivialKind = Literal["silent", "refusal", "bare-done", "tool-spam"]
TRIVIAL_KINDS: tuple[TrivialKind, ...] = ("silent", "refusal", "bare-done", "tool-spam")


class TrivialPolicy:
    """One trivial agent: `silent`, `refusal`, `bare-done` or `tool-spam` (the first tool with `{}`)."""

    model: str | None = None

    def __init__(self, kind: str) -> None:
        if kind not in TRIVIAL_KINDS:
            raise ValueError(f"unknown trivial agent {kind!r} ({', '.join(TRIVIAL_KINDS)})")
        self.kind = kind
        self.name = f"trivial-{kind}"

    async def act(self, view: PolicyView) -> AssistantTurn:
        if self.kind == "tool-spam" and view.tools:
            tool = sorted(view.tools, key=lambda t: t.name)[0]
            return AssistantTurn(tool_calls=(ToolCall.make(f"call_{view.turn}", tool.name, {}),))
        answer = TRIVIAL_ANSWERS.get(self.kind)
        return AssistantTurn(content=answer or "", finish_reason="stop")
