"""A replay policy: play the assistant turns of recorded episodes again, whatever the tools answer now."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.conversation import AssistantTurn, ToolCall
from harness.policies.base import PolicyView

__all__ = ["ReplayPolicy"]


def _turns(messages: Iterable[Mapping[str, Any]]) -> list[AssistantTurn]:
    turns = []
    for message in messages:
        if message.get("role") != "assistant":
            continue
        calls = tuple(
            ToolCall.make(
                str(call.get("id") or f"call_{index}"),
                str(call["function"]["name"]),
                str(call["function"].get("arguments") or ""),
            )
            for index, call in enumerate(message.get("tool_calls") or [])
        )
        turns.append(AssistantTurn(content=message.get("content"), tool_calls=calls, finish_reason="replay"))
    return turns


class ReplayPolicy:
    """Replay recorded assistant turns, matched by episode id (`env/task#sample`) or else by task id.

    Useful to re-score old trajectories against a changed environment or
    judge, and to check that a run is reproducible. Past the recorded turns it
    answers with an empty message.
    """

    name = "replay"
    model: str | None = None

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self._by_episode: dict[str, list[AssistantTurn]] = {}
        self._by_task: dict[tuple[str, str], list[AssistantTurn]] = {}
        for record in records:
            turns = _turns(record.get("messages") or [])
            self._by_episode[str(record.get("episode_id"))] = turns
            self._by_task.setdefault((str(record.get("env")), str(record.get("task"))), turns)

    @classmethod
    def from_file(cls, path: str | Path) -> ReplayPolicy:
        """Read the records of a run (a `records.jsonl` file or the run folder)."""
        from harness.records import read_records

        return cls(read_records(path))

    async def act(self, view: PolicyView) -> AssistantTurn:
        turns = self._by_episode.get(view.episode_id) or self._by_task.get((view.task.env, view.task.id)) or []
        if view.turn < len(turns):
            return turns[view.turn]
        return AssistantTurn(content="", finish_reason="replay_exhausted")
