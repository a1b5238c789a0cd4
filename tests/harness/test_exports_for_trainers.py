"""Exports a trainer reads as they are: what is left out and why, tools and object arguments, token rows, groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.export import export_hf_dataset, export_sft, export_token_rollouts
from harness.policies import LiteLLMPolicy
from harness.records import RecordWriter
from harness.runner import Runner
from harness.testing import FakeCall, FakeLLM, Reply
from mcpfactory.runtime import Task

TOOLS = [{"type": "function", "function": {"name": "f", "description": "", "parameters": {"type": "object"}}}]
USER = {"role": "user", "content": "hi"}


def record(task: str, sample: int, reward: float, termination: str = "answered", **extra: Any) -> dict[str, Any]:
    fault = termination in ("timeout", "model_error", "env_fault", "infra_error")
    return {
        "episode_id": f"e/{task}#{sample}",
        "env": "e",
        "task": task,
        "sample": sample,
        "seed": 100 + sample,
        "termination": termination,
        "fault": fault,
        "reward": 0.0 if fault else reward,
        "success": None if fault else reward == 1.0,
        "num_malformed_calls": 0,
        "messages": [USER, {"role": "assistant", "content": "ok"}],
        "tools": TOOLS,
        "sampler": {"model": "m", "temperature": 0.7},
        **extra,
    }


def tokens(prompt: list[int], completion: list[int], finish: str = "stop") -> dict[str, Any]:
    return {
        "finish_reason": finish,
        "tokens": {"prompt_ids": prompt, "completion_ids": completion, "completion_logprobs": [-0.5] * len(completion)},
    }


def write(folder: Path, *records: dict[str, Any]) -> Path:
    with RecordWriter(folder) as writer:
        for one in records:
            writer.write(one)
    return folder


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_faults_empty_episodes_and_malformed_calls_are_left_out_and_counted(tmp_path: Path) -> None:
    run = write(
        tmp_path / "run",
        record("t1", 0, 1.0),
        record("t1", 1, 0.0, "timeout"),
        record("t1", 2, 0.0, "model_error"),
        record("t2", 0, 1.0, messages=[USER]),
        record("t2", 1, 1.0, num_malformed_calls=2),
        record("t3", 0, 0.0),
        record("t4", 0, 1.0, tools=None, env="other", episode_id="other/t4#0"),  # no record of `other` has tools
        record("t5", 0, 1.0, tools=None),  # another record of `e` has them
    )
    report = export_sft(run, tmp_path / "sft.jsonl")
    assert report.written == 2
    assert [row["tools"] for row in rows(tmp_path / "sft.jsonl")] == [TOOLS, TOOLS]
    assert dict(report.dropped) == {
        "fault:timeout": 1,
        "fault:model_error": 1,
        "no_assistant_turn": 1,
        "malformed_calls": 1,
        "below_min_reward": 1,
        "no_tools": 1,
    }
    assert report.summary().startswith("wrote 2 row(s); left out 6 episode(s): ")
    kept = export_sft(run, tmp_path / "all.jsonl", min_reward=None, include_faults=True, keep_malformed=True)
    assert (kept.written, dict(kept.dropped)) == (7, {"no_tools": 1})


def test_an_old_run_without_tools_in_its_records_takes_them_from_its_tools_folder(tmp_path: Path) -> None:
    run = write(tmp_path / "run", record("t1", 0, 1.0, tools=None))
    (run / "tools").mkdir()
    (run / "tools" / "e.json").write_text(json.dumps(TOOLS))
    assert export_sft(run, tmp_path / "sft.jsonl").written == 1
    assert rows(tmp_path / "sft.jsonl")[0]["tools"] == TOOLS


async def test_sft_rows_carry_tools_group_seed_sampler_and_arguments_as_objects(
    catalog: Path, task_by_id: dict[str, Task], tmp_path: Path
) -> None:
    script = [Reply.call("get_account", account_id="a2"), Reply.text("75")]
    with FakeLLM(script) as llm:
        policy = LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake", temperature=0.7)
        await Runner(policy, out=tmp_path / "run", catalog=catalog).run([task_by_id["ledger-0002"]])
    assert export_sft(tmp_path / "run", tmp_path / "sft.jsonl").written == 1
    (row,) = rows(tmp_path / "sft.jsonl")
    assert row["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"account_id": "a2"}
    assert [t["function"]["name"] for t in row["tools"]] == ["get_account", "deposit", "set_note", "audit"]
    assert (row["group_id"], row["sample"], row["sampler"]["temperature"]) == ("ledger/ledger-0002", 0, 0.7)
    assert row["seed"] == llm.requests[0]["seed"]


def test_token_rows_carry_group_turn_boundaries_finish_reasons_and_truncation(tmp_path: Path) -> None:
    calls = [tokens([1, 2], [3, 4], "tool_calls"), tokens([1, 2, 3, 4, 9], [5], "length")]
    run = write(tmp_path / "run", record("t1", 0, 0.0, "truncated", model_calls=calls))
    assert export_token_rollouts(run, tmp_path / "tokens.jsonl").written == 1
    (row,) = rows(tmp_path / "tokens.jsonl")
    assert {key: row[key] for key in ("prompt_ids", "completion_ids", "completion_mask", "turn_boundaries")} == {
        "prompt_ids": [1, 2],
        "completion_ids": [3, 4, 9, 5],
        "completion_mask": [1, 1, 0, 1],
        "turn_boundaries": [[0, 2], [3, 4]],
    }
    assert (row["finish_reasons"], row["finish_reason"], row["truncated"]) == (["tool_calls", "length"], "length", True)
    assert (row["group_id"], row["sample"], row["seed"], row["segment"], row["segments"]) == ("e/t1", 0, 100, 0, 1)
    assert row["completion_logprobs"] == [-0.5, -0.5, 0.0, -0.5]


def test_an_episode_whose_prompt_does_not_extend_the_last_turn_is_split_not_dropped(tmp_path: Path) -> None:
    # The second prompt drops the first turn's tokens (a template that strips <think> blocks).
    calls = [tokens([1, 2], [7, 8, 3]), tokens([1, 2, 3, 6], [5])]
    run = write(tmp_path / "run", record("t1", 0, 1.0, model_calls=calls))
    report = export_token_rollouts(run, tmp_path / "tokens.jsonl")
    assert (report.written, dict(report.notes), dict(report.dropped)) == (2, {"split:prompt_not_extended": 1}, {})
    first, second = rows(tmp_path / "tokens.jsonl")
    assert (first["prompt_ids"], first["completion_ids"], first["segment"]) == ([1, 2], [7, 8, 3], 0)
    assert (second["prompt_ids"], second["completion_ids"], second["segment"]) == ([1, 2, 3, 6], [5], 1)
    assert first["reward"] == second["reward"] == 1.0


@pytest.mark.parametrize(("how", "expected"), [("mean", [0.5, -0.5]), ("mean_std", [1.0, -1.0]), ("none", [0.0, 0.0])])
def test_advantages_stand_on_the_whole_group_and_report_its_faults(
    tmp_path: Path, how: Any, expected: list[float]
) -> None:
    calls = [tokens([1], [2])]
    run = write(
        tmp_path / "run",
        record("t1", 0, 1.0, model_calls=calls),
        record("t1", 1, 0.0, model_calls=calls),
        record("t1", 2, 0.0, "env_fault", model_calls=calls),
        record("t1", 3, 1.0, model_calls=[{"tokens": None}]),  # scored, no tokens: still in the group
        record("t1", 4, 0.0, model_calls=[{"tokens": None}]),
    )
    report = export_token_rollouts(run, tmp_path / "tokens.jsonl", advantage=how)
    assert dict(report.dropped) == {"fault:env_fault": 1, "no_token_ids": 2}
    kept = rows(tmp_path / "tokens.jsonl")
    assert [round(r["advantage"], 4) for r in kept] == expected
    assert {(r["group_size"], r["group_faults"], r["advantage_normalisation"]) for r in kept} == {(4, 1, how)}


async def test_the_hf_dataset_has_nested_messages_and_tools_with_object_arguments(
    catalog: Path, task_by_id: dict[str, Task], tmp_path: Path
) -> None:
    datasets = pytest.importorskip("datasets")
    script = [Reply.calls(FakeCall("get_account", {"account_id": "a2"}), FakeCall("audit", {})), Reply.text("75")]
    with FakeLLM(script) as llm:
        policy = LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake")
        await Runner(policy, out=tmp_path / "run", catalog=catalog).run([task_by_id["ledger-0002"]])
    assert export_hf_dataset(tmp_path / "run", tmp_path / "hf").written == 1
    (row,) = datasets.load_from_disk(str(tmp_path / "hf"))
    calls = row["messages"][2]["tool_calls"]
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("get_account", {"account_id": "a2"}),
        ("audit", {}),
    ]
    assert row["tools"][0]["function"]["parameters"]["required"] == ["account_id"]
    assert (row["messages"][0]["role"], row["group_id"], row["reward"]) == ("system", "ledger/ledger-0002", 1.0)
