"""The gym: catalog episodes by (environment, task, seed) for any sampler, async and blocking."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

from harness.conversation import AssistantTurn, ToolCall
from harness.env import Termination
from harness.errors import HarnessError
from harness.gym import BlockingGym, Gym, assistant_turn, decoded_messages


def call(name: str, arguments: Any, call_id: str = "c1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_an_assistant_message_reads_the_same_with_string_or_object_arguments() -> None:
    as_string = assistant_turn({"role": "assistant", "content": None, "tool_calls": [call("deposit", '{"amount": 5}')]})
    as_object = assistant_turn({"role": "assistant", "tool_calls": [call("deposit", {"amount": 5})]})
    assert as_string.tool_calls[0].arguments == as_object.tool_calls[0].arguments == {"amount": 5}
    assert (as_string.finish_reason, as_object.finish_reason) == ("tool_calls", "tool_calls")
    assert assistant_turn({"role": "assistant", "content": "done"}) == AssistantTurn(
        content="done", finish_reason="stop"
    )


def test_bad_arguments_become_a_malformed_call_and_a_shapeless_message_is_refused() -> None:
    (bad,) = assistant_turn({"tool_calls": [call("deposit", [1, 2])]}).tool_calls
    assert (bad.arguments, bad.parse_error) == (None, "arguments must be a JSON object")
    (nameless,) = assistant_turn({"tool_calls": [call("", {})]}).tool_calls
    assert nameless.parse_error == "the tool call names no function"
    with pytest.raises(HarnessError):
        assistant_turn("deposit 5")  # type: ignore[arg-type]
    with pytest.raises(HarnessError):
        assistant_turn({"content": 5})
    with pytest.raises(HarnessError):
        assistant_turn({"tool_calls": "deposit"})


def test_decoded_messages_turn_argument_strings_into_objects_and_keep_what_does_not_decode() -> None:
    messages = [
        {"role": "assistant", "content": None, "tool_calls": [call("a", '{"x": 1}'), call("b", "{oops", "c2")]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    decoded = decoded_messages(messages)
    assert [c["function"]["arguments"] for c in decoded[0]["tool_calls"]] == [{"x": 1}, "{oops"]
    assert decoded[1] == messages[1]
    assert messages[0]["tool_calls"][0]["function"]["arguments"] == '{"x": 1}'  # the input is not changed


async def test_a_gym_episode_plays_a_task_from_message_dicts_and_is_judged(catalog: Path) -> None:
    async with Gym(catalog=catalog) as gym, gym.episode("ledger", "ledger-0001", seed=3) as episode:
        assert [m["role"] for m in episode.messages][-1] == "user"
        assert [t["function"]["name"] for t in episode.tools] == ["get_account", "deposit", "set_note", "audit"]
        first = await episode.step({"role": "assistant", "tool_calls": [call("get_account", {"account_id": "a1"})]})
        assert (first.done, [m["role"] for m in first.messages]) == (False, ["tool"])
        await episode.step({"role": "assistant", "tool_calls": [call("deposit", '{"account_id": "a1", "amount": 50}')]})
        last = await episode.step({"role": "assistant", "content": "Deposited 50."})
        assert (last.done, last.termination, episode.reward) == (True, Termination.ANSWERED, 1.0)
        assert episode.messages[-3]["tool_calls"][0]["function"]["arguments"] == {"account_id": "a1", "amount": 50}
        record = episode.record(sampler={"model": "mine", "temperature": 0.5})
    assert (record["episode_id"], record["seed"], record["reward"]) == ("ledger/ledger-0001#0", 3, 1.0)
    assert record["sampler"] == {"model": "mine", "temperature": 0.5}
    assert len(record["tools"]) == 4


async def test_an_episode_ended_from_outside_is_scored_as_the_reason_says(catalog: Path) -> None:
    async with Gym(catalog=catalog) as gym, gym.episode("ledger", "ledger-0002") as episode:
        truncated = await episode.end(Termination.TRUNCATED, "the sampler ran out of context")
        assert (truncated.done, truncated.termination, episode.reward) == (True, Termination.TRUNCATED, 0.0)
    async with Gym(catalog=catalog) as gym, gym.episode("ledger", "ledger-0002") as episode:
        fault = await episode.end(Termination.MODEL_ERROR, "the sampler failed")
        assert (fault.termination, episode.reward) == (Termination.MODEL_ERROR, None)


async def test_concurrent_episodes_share_one_endpoint_and_never_see_each_others_writes(catalog: Path) -> None:
    balances: dict[int, str] = {}
    async with Gym(catalog=catalog) as gym:

        async def play(amount: int) -> None:
            async with gym.episode("ledger", "ledger-0001", sample=amount) as episode:
                await episode.step({"tool_calls": [call("deposit", {"account_id": "a1", "amount": amount})]})
                step = await episode.step({"tool_calls": [call("get_account", {"account_id": "a1"})]})
                balances[amount] = json.loads(step.messages[0]["content"])["balance"]

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                for amount in (1, 2, 3, 4):
                    group.start_soon(play, amount)
        assert len(gym._endpoints) == 1
    assert balances == {1: 101, 2: 102, 3: 103, 4: 104}


async def test_unknown_tasks_and_a_task_of_another_environment_are_refused(catalog: Path, ledger_tasks: Any) -> None:
    async with Gym(catalog=catalog) as gym:
        with pytest.raises(HarnessError):
            async with gym.episode("ledger", "ledger-9999"):
                pass
        with pytest.raises(HarnessError):
            async with gym.episode("todo", ledger_tasks[0]):
                pass


def test_a_blocking_gym_serves_episodes_to_threads_and_closes_what_was_left_open(catalog: Path) -> None:
    rewards: dict[str, float | None] = {}
    with BlockingGym(catalog=catalog) as gym:

        def play(name: str, answer: str) -> None:
            episode = gym.open("ledger", "ledger-0002")
            episode.step(AssistantTurn(tool_calls=(ToolCall.make("c1", "get_account", {"account_id": "a2"}),)))
            episode.step({"role": "assistant", "content": answer})
            rewards[name] = episode.reward
            episode.close()

        threads = [threading.Thread(target=play, args=(str(n), f"The balance is {n}.")) for n in (75, 76)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        left_open = gym.open("ledger", "ledger-0001")
    assert rewards == {"75": 1.0, "76": 0.0}
    assert left_open.closed and gym.closed
