"""The oracle: a scripted policy that plays a task's reference solution, one call per turn.

It is the reference the judge compares against, so on a correct environment
it scores 1.0 on every task. With a simulated user (`PolicyView.interactive`)
it follows the confirmation rule that tau-bench's policies (and ours) state:
before each call that writes, it says what it is about to do and asks; it
makes the call only once the user has answered.
"""

from __future__ import annotations

from harness.conversation import AssistantTurn, ToolCall
from harness.policies.base import PolicyView
from mcpfactory.runtime import Task

__all__ = ["OraclePolicy", "oracle_answer"]


def oracle_answer(task: Task) -> str:
    """The oracle's final answer: a statement of every fact the judge requires, or a plain confirmation."""
    facts = [fact.say() for fact in task.judge.facts]
    return "\n".join(facts) if facts else "Done."


class OraclePolicy:
    """Replay `task.solution` call by call, then answer with the facts the task requires.

    `confirm_writes`: ask the user before each write (when a user is there to
    answer); `False` never asks.
    """

    name = "oracle"
    model: str | None = None

    def __init__(self, confirm_writes: bool = True) -> None:
        self.confirm_writes = confirm_writes

    async def act(self, view: PolicyView) -> AssistantTurn:
        solution = view.task.solution
        made = sum(len(m.get("tool_calls") or []) for m in view.messages if m.get("role") == "assistant")
        # In a scripted multi-turn task, each user turn's calls come after that turn's message.
        turn = _user_turn(view)
        if made >= len(solution) or solution[made].turn > turn:
            return AssistantTurn(content=oracle_answer(view.task), finish_reason="stop")
        call = solution[made]
        read_only = {tool.name: tool.read_only for tool in view.tools}
        writes = read_only.get(call.tool) is False
        asks = self.confirm_writes and view.interactive and view.task.judge.kind != "turns"
        if asks and writes and not _asked_just_now(view):
            question = f"I am about to call {call.tool} with {dict(call.arguments)}. Shall I proceed?"
            return AssistantTurn(content=question, finish_reason="stop")
        return AssistantTurn(tool_calls=(ToolCall.make(f"call_{made}", call.tool, dict(call.arguments)),))


def _user_turn(view: PolicyView) -> int:
    """Which scripted user turn the conversation is in (0: the opening)."""
    scripted = view.task.user.turns if view.task.user is not None else ()
    said = [m.get("content") for m in view.messages if m.get("role") == "user"]
    return sum(1 for text in said if text in scripted)


def _asked_just_now(view: PolicyView) -> bool:
    """Whether the last two messages are this oracle's question and the user's answer to it."""
    if len(view.messages) < 2:
        return False
    question, answer = view.messages[-2], view.messages[-1]
    return (
        question.get("role") == "assistant"
        and not question.get("tool_calls")
        and str(question.get("content") or "").startswith("I am about to call ")
        and answer.get("role") == "user"
    )
