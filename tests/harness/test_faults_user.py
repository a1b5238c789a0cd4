"""Fault injection marked in records, and the optional simulated user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from harness.episode import EpisodeConfig
from harness.faults import TRANSIENT_MESSAGE, FaultConfig
from harness.llm import LLMConfig
from harness.policies import LiteLLMPolicy, OraclePolicy
from harness.runner import RunConfig, Runner
from harness.testing import FakeLLM, Reply
from harness.user import STOP_TOKEN, LiteLLMUser
from mcpfactory.runtime import Task


async def test_injected_transient_errors_reach_the_model_and_are_marked(
    catalog: Path, task_by_id: dict[str, Task]
) -> None:
    config = RunConfig(episode=EpisodeConfig(faults=FaultConfig(transient_error_rate=1.0)))
    summary = await Runner(OraclePolicy(), config, catalog=catalog).run([task_by_id["ledger-0001"]])
    (record,) = summary.records
    assert [c["injected"] for c in record["calls"]] == ["transient_error", "transient_error"]
    assert [m["content"] for m in record["messages"] if m["role"] == "tool"] == [TRANSIENT_MESSAGE] * 2
    assert record["num_injected_faults"] == 2
    assert record["reward_components"]["calls"] == {"matched": 0, "expected": 2, "extra": 0, "malformed": 0}
    assert (record["termination"], record["reward"]) == ("answered", 0.0)


async def test_injected_latency_past_the_tool_deadline_ends_as_an_environment_fault(
    catalog: Path, task_by_id: dict[str, Task]
) -> None:
    episode = EpisodeConfig(tool_timeout=0.05, faults=FaultConfig(latency_rate=1.0, latency_s=5.0))
    with anyio.fail_after(10):
        summary = await Runner(OraclePolicy(), RunConfig(episode=episode), catalog=catalog).run(
            [task_by_id["ledger-0001"]]
        )
    (record,) = summary.records
    assert (record["termination"], record["calls"][0]["injected"], record["calls"][0]["error_code"]) == (
        "env_fault",
        "latency",
        "timeout",
    )
    assert (record["fault"], record["success"]) == (True, None)


async def test_a_simulated_user_talks_until_it_writes_the_stop_token(
    catalog: Path, task_by_id: dict[str, Task]
) -> None:
    def script(request: dict[str, Any]) -> Reply:
        messages = request["messages"]
        if messages[0]["content"].startswith("You are playing a user"):
            said = [m["content"] for m in messages if m["role"] == "user"]
            return Reply.text(f"Thanks! {STOP_TOKEN}" if "Done" in said[-1] else "Please put 50 into a1.")
        if messages[-1]["role"] == "user" and messages[-1]["content"].startswith("Please put"):
            return Reply.call("deposit", account_id="a1", amount=50)
        if messages[-1]["role"] == "tool":
            return Reply.text("Done: a1 now holds 150.")
        return Reply.text("Which account, and how much?")

    with FakeLLM(script) as llm:
        policy = LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake")
        user = LiteLLMUser(LLMConfig("openai/fake", api_base=llm.url, api_key="fake"))
        summary = await Runner(policy, user=user, catalog=catalog).run([task_by_id["ledger-0001"]])
        user_requests = [r for r in llm.requests if r["messages"][0]["content"].startswith("You are playing a user")]
    (record,) = summary.records
    assert [(m["role"], m.get("content")) for m in record["messages"][1:] if m["role"] != "tool"] == [
        ("user", "Please deposit 50 into my account a1."),
        ("assistant", "Which account, and how much?"),
        ("user", "Please put 50 into a1."),
        ("assistant", None),
        ("assistant", "Done: a1 now holds 150."),
        ("user", "Thanks!"),
    ]
    assert (record["termination"], record["reward"]) == ("answered", 1.0)
    assert "Your goal: You are Ada" in user_requests[0]["messages"][0]["content"]
    assert "What you know: My account is a1." in user_requests[0]["messages"][0]["content"]
    assert user_requests[0]["messages"][1] == {"role": "assistant", "content": "Please deposit 50 into my account a1."}
