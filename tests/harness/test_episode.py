"""The episode loop through the real litellm path, against the loopback fake model server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import pytest

from harness.connection import Endpoint
from harness.episode import EpisodeConfig, EpisodeJob, run_episode
from harness.faults import FaultConfig
from harness.policies import LiteLLMPolicy
from harness.reward import ReferenceCache
from harness.runner import RunConfig, Runner
from harness.testing import FakeCall, FakeLLM, Reply, render_prompt, tokenize
from mcpfactory.runtime import Task

Ledger = Callable[[], AbstractAsyncContextManager[Endpoint]]


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as llm:
        yield llm


def policy(llm: FakeLLM, **options: Any) -> LiteLLMPolicy:
    return LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake", backoff_s=0.0, **options)


async def episode(
    llm: FakeLLM, ledger: Ledger, task: Task, script: list[Reply], config: EpisodeConfig | None = None, **kw: Any
) -> dict[str, Any]:
    llm.script(script)
    with anyio.fail_after(30):
        async with ledger() as endpoint:
            return await run_episode(EpisodeJob(task), policy(llm, **kw), endpoint, config=config or EpisodeConfig())


def tool_contents(record: dict[str, Any]) -> list[str]:
    return [m["content"] for m in record["messages"] if m["role"] == "tool"]


async def test_a_final_answer_after_tool_calls_ends_the_episode_as_answered(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    script = [Reply.call("get_account", account_id="a1"), Reply.call("deposit", account_id="a1", amount=50)]
    record = await episode(fake, ledger, task_by_id["ledger-0001"], [*script, Reply.text("Deposited.")])
    assert record["termination"] == "answered"
    assert record["reward"] == 1.0
    assert record["success"] is True
    assert [c["tool"] for c in record["calls"]] == ["get_account", "deposit"]
    assert record["calls"][1]["result"] == {"account_id": "a1", "owner": "Ada", "balance": 150, "note": ""}
    assert record["final_answer"] == "Deposited."
    assert record["policy"] == {"name": "litellm", "model": "openai/fake"}
    assert fake.remaining == 0


async def test_the_turn_limit_ends_the_episode_as_max_turns(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    script = [Reply.call("get_account", account_id="a1")] * 2
    record = await episode(fake, ledger, task_by_id["ledger-0001"], script, EpisodeConfig(max_turns=2))
    assert (record["termination"], record["turns"], record["reward"]) == ("max_turns", 2, 0.0)


async def test_a_model_that_never_answers_is_a_model_fault_never_a_success(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    # ledger-0004 is a refusal: doing nothing leaves the right state, so a judged timeout would have scored.
    record = await episode(fake, ledger, task_by_id["ledger-0004"], [Reply.hanging()] * 3, timeout=0.2, max_retries=2)
    assert (record["termination"], record["fault"], record["success"], record["reward"]) == (
        "model_error",
        True,
        None,
        0.0,
    )
    assert len(fake.requests) == 3  # each attempt had its own deadline


async def test_an_authentication_failure_is_reported_as_one_at_once(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    record = await episode(fake, ledger, task_by_id["ledger-0001"], [Reply.http_error(401, "invalid api key")])
    assert (record["termination"], record["fault"]) == ("model_error", True)
    assert record["termination_detail"].startswith("openai/fake: auth: AuthenticationError (status 401)")
    assert len(fake.requests) == 1


async def test_a_context_length_overflow_ends_as_truncated_and_is_scored(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    overflow = Reply.http_error(400, "This model's maximum context length is 4096 tokens.")
    script = [Reply.call("get_account", account_id="a1"), Reply.call("deposit", account_id="a1", amount=50), overflow]
    record = await episode(fake, ledger, task_by_id["ledger-0001"], script)
    assert (record["termination"], record["fault"], record["success"], record["reward"]) == (
        "truncated",
        False,
        True,
        1.0,
    )
    zero = await episode(fake, ledger, task_by_id["ledger-0001"], script, EpisodeConfig(truncated="zero"))
    assert (zero["termination"], zero["success"], zero["reward"]) == ("truncated", False, 0.0)


async def test_a_refused_request_ends_as_model_error_without_retries(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    record = await episode(fake, ledger, task_by_id["ledger-0001"], [Reply.http_error(400, "bad request")])
    assert (record["termination"], record["fault"], record["success"], record["reward"]) == (
        "model_error",
        True,
        None,
        0.0,
    )
    assert len(fake.requests) == 1


async def test_server_errors_are_retried_then_end_as_model_error(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    record = await episode(fake, ledger, task_by_id["ledger-0001"], [Reply.http_error(503)] * 3, max_retries=2)
    assert record["termination"] == "model_error"
    assert len(fake.requests) == 3


async def test_a_rate_limit_is_retried_and_the_episode_goes_on(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    script = [Reply.http_error(429, retry_after=0), Reply.http_error(500), Reply.text("The balance is 75.")]
    record = await episode(fake, ledger, task_by_id["ledger-0002"], script)
    assert record["termination"] == "answered"
    assert record["model_calls"][0]["attempts"] == 3
    assert record["reward_components"]["facts"] == {"found": 1, "total": 1, "missing": []}


async def test_a_reply_without_choices_ends_as_malformed_output(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    record = await episode(fake, ledger, task_by_id["ledger-0001"], [Reply.raw('{"id": "x", "choices": []}')])
    assert record["termination"] == "malformed_output"
    assert record["fault"] is False


async def test_an_empty_reply_ends_as_malformed_output(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    record = await episode(fake, ledger, task_by_id["ledger-0001"], [Reply.text("")])
    assert record["termination"] == "malformed_output"


async def test_turns_of_only_malformed_calls_end_as_malformed_output(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    script = [
        Reply.calls(FakeCall("deposit", '{"account_id": "a1", "amount": ')),
        Reply.calls(FakeCall("withdraw", {"account_id": "a1"})),
        Reply.calls(FakeCall("deposit", {"account_id": "a1", "amount": "fifty"})),
    ]
    record = await episode(fake, ledger, task_by_id["ledger-0001"], script, EpisodeConfig(max_malformed_turns=3))
    assert record["termination"] == "malformed_output"
    assert [c["malformed"] for c in record["calls"]] == ["invalid_json", "unknown_tool", "invalid_arguments"]
    assert record["num_malformed_calls"] == 3


async def test_invalid_arguments_are_sent_back_to_the_model_and_not_to_the_server(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    script = [
        Reply.calls(FakeCall("deposit", {"account_id": "a1", "amount": "50"})),
        Reply.call("deposit", account_id="a1", amount=50),
        Reply.text("Done."),
    ]
    record = await episode(fake, ledger, task_by_id["ledger-0001"], script)
    feedback = fake.requests[1]["messages"][-1]
    assert feedback["role"] == "tool"
    assert feedback["content"].startswith("Error: Invalid arguments for deposit: amount:")
    assert record["calls"][0]["malformed"] == "invalid_arguments"
    assert record["calls"][0]["result"] is None
    assert record["termination"] == "answered"
    # The state shows one deposit: the invalid call never reached the server.
    assert record["reward"] == 1.0


async def test_a_domain_error_goes_back_to_the_model_as_a_tool_error(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    script = [Reply.call("deposit", account_id="a1", amount=-5), Reply.text("Sorry: deposits must be positive.")]
    record = await episode(fake, ledger, task_by_id["ledger-0004"], script)
    assert record["calls"][0]["error_code"] == "bad_amount"
    assert record["num_tool_errors"] == 1
    assert tool_contents(record) == ["Deposits must be positive, not -5."]
    assert record["reward"] == 1.0


async def test_parallel_tool_calls_run_in_the_order_given(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    script = [
        Reply.calls(
            FakeCall("set_note", {"account_id": "a2", "note": "vip"}),
            FakeCall("deposit", {"account_id": "a2", "amount": 5}),
            FakeCall("get_account", {"account_id": "a2"}),
        ),
        Reply.text("Done."),
    ]
    record = await episode(fake, ledger, task_by_id["ledger-0003"], script)
    assert record["turns"] == 2
    assert [c["turn"] for c in record["calls"]] == [0, 0, 0]
    assert record["calls"][2]["result"] == {"account_id": "a2", "owner": "Bo", "balance": 6, "note": "vip"}
    assert [m["tool_call_id"] for m in record["messages"] if m["role"] == "tool"] == [c["id"] for c in record["calls"]]
    assert record["reward"] == 1.0


async def test_a_bug_in_a_tool_ends_the_episode_as_env_fault(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    script = [Reply.call("audit", account_id="a3"), Reply.text("unreachable")]
    record = await episode(fake, ledger, task_by_id["ledger-0002"], script)
    assert (record["termination"], record["fault"], record["success"]) == ("env_fault", True, None)
    assert record["calls"][0]["fault"]["kind"] == "env_fault"
    assert fake.remaining == 1


async def test_a_dropped_connection_ends_as_infra_error_and_the_runner_retries_it(
    fake: FakeLLM, catalog: Any, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    fake.script([Reply.call("get_account", account_id="a1")] * 2)
    config = RunConfig(max_attempts=2, episode=EpisodeConfig(faults=FaultConfig(drop_rate=1.0)))
    runner = Runner(policy(fake), config, catalog=catalog)
    summary = await runner.run([task_by_id["ledger-0001"]])
    (record,) = summary.records
    assert (record["termination"], record["attempt"], record["fault"]) == ("infra_error", 2, True)
    assert [f["attempt"] for f in record["infra_failures"]] == [1]
    assert record["calls"][0]["injected"] == "drop"
    assert summary.success_rate is None


async def test_token_ids_and_logprobs_are_kept_when_the_server_returns_them(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    script = [Reply.call("get_account", account_id="a2"), Reply.text("75")]
    record = await episode(fake, ledger, task_by_id["ledger-0002"], script, return_token_ids=True, logprobs=True)
    first, second = (call["tokens"] for call in record["model_calls"])
    assert first["prompt_ids"] == tokenize(render_prompt(record["messages"][:2]))
    assert second["prompt_ids"][: len(first["prompt_ids"]) + len(first["completion_ids"])] == (
        first["prompt_ids"] + first["completion_ids"]
    )
    assert len(second["completion_logprobs"]) == len(second["completion_ids"])
    assert [c["finish_reason"] for c in record["model_calls"]] == ["tool_calls", "stop"]
    assert fake.requests[0]["return_token_ids"] is True


async def test_the_reference_replay_runs_once_per_task(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    references = ReferenceCache()
    task = task_by_id["ledger-0004"]
    async with ledger() as endpoint:
        for _ in range(2):
            fake.script([Reply.text("Deposits must be positive.")])
            await run_episode(EpisodeJob(task), policy(fake), endpoint, references=references)
    assert len(references._done) == 1


async def test_the_system_prompt_is_the_server_instructions_and_tools_hide_the_control_plane(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    await episode(fake, ledger, task_by_id["ledger-0002"], [Reply.text("75")])
    request = fake.requests[0]
    assert request["messages"][0] == {
        "role": "system",
        "content": "You manage a small ledger of accounts. Deposits must be positive.\n",
    }
    names = [tool["function"]["name"] for tool in request["tools"]]
    assert names == ["get_account", "deposit", "set_note", "audit"]
    assert json.dumps(request["tools"]).count("_control") == 0


async def test_the_episode_deadline_ends_a_slow_episode_as_timeout(
    fake: FakeLLM, ledger: Ledger, task_by_id: dict[str, Task]
) -> None:
    config = EpisodeConfig(episode_timeout=0.3, model_timeout=30)
    record = await episode(fake, ledger, task_by_id["ledger-0001"], [Reply.hanging()], config)
    assert (record["termination"], record["termination_detail"]) == (
        "timeout",
        "the episode passed its 0.3 s deadline",
    )
