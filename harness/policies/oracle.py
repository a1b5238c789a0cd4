"""The oracle: a scripted policy that plays a task's reference solution, one call per turn."""

from __future__ import annotations

from harness.conversation import AssistantTurn, ToolCall
from harness.policies.base import PolicyView

__all__ = ["OraclePolicy", "oracle_answer"]


def oracle_answer(outputs: tuple[str, ...]) -> str:
    """The oracle's final answer: every string the judge requires, or a plain confirmation."""
    return "\n".join(outputs) if outputs else "Done."


class OraclePolicy:
    """Replay `task.solution` call by call, then answer with the required output strings.

    It ignores what the tools return: it is the reference the judge compares
    against, so on a correct environment it scores 1.0 on every task.
    """

    name = "oracle"
    model: str | None = None

    async def act(self, view: PolicyView) -> AssistantTurn:
        solution = view.task.solution
        if view.turn < len(solution):
            call = solution[view.turn]
            return AssistantTurn(tool_calls=(ToolCall.make(f"call_{view.turn}", call.tool, dict(call.arguments)),))
        return AssistantTurn(content=oracle_answer(view.task.judge.outputs), finish_reason="stop")
