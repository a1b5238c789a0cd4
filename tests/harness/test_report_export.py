"""Reports (success, pass@k, pass^k, faults apart, plots, comparisons) and exports for trainers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.export import export_hf_dataset, export_sft, export_token_rollouts
from harness.policies import LiteLLMPolicy, OraclePolicy, RandomPolicy
from harness.records import RecordWriter
from harness.report import (
    build_report,
    build_report_from_records,
    compare_reports,
    pass_at_k,
    pass_hat_k,
    render_compare,
    render_text,
    write_plots,
)
from harness.runner import RunConfig, Runner
from harness.testing import FakeLLM, Reply, render_prompt, tokenize
from mcpfactory.runtime import Task


def test_pass_at_k_and_pass_hat_k_follow_their_estimators() -> None:
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 4) == 1.0
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_hat_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_hat_k(5, 2, 2) == pytest.approx(0.1)
    assert pass_hat_k(5, 5, 5) == 1.0


TOOL = {"type": "function", "function": {"name": "f", "description": "", "parameters": {"type": "object"}}}


def rec(task: str, sample: int, success: bool | None, termination: str = "answered", **extra: Any) -> dict[str, Any]:
    fault = termination in ("model_error", "env_fault", "infra_error")
    return {
        "episode_id": f"e/{task}#{sample}",
        "env": "e",
        "task": task,
        "sample": sample,
        "policy": {"name": "p", "model": None},
        "termination": termination,
        "fault": fault,
        "reward": 1.0 if success else 0.0,
        "success": None if fault else success,
        "turns": 2,
        "num_calls": 2,
        "num_tool_errors": 1,
        "num_malformed_calls": 0,
        "num_injected_faults": 0,
        "infra_failures": [],
        **extra,
    }


def test_faults_are_counted_apart_and_excluded_from_success() -> None:
    records = [
        rec("t1", 0, True),
        rec("t1", 1, False),
        rec("t1", 2, None, "env_fault"),
        rec("t2", 0, True),
        rec("t2", 1, True),
        rec("t2", 2, None, "model_error"),
    ]
    overall = build_report_from_records(records)["overall"]
    assert overall == {
        "episodes": 6,
        "agent_episodes": 4,
        "tasks": 2,
        "success_rate": 0.75,
        "success_all": 0.5,
        "success_refusal": None,
        "success_other": 0.75,
        "refusal_episodes": 0,
        "mean_reward": 0.75,
        "pass@k": {"1": 0.75, "2": 1.0},
        "pass^k": {"1": 0.75, "2": 0.5},
        "mean_turns": 2.0,
        "mean_calls": 2.0,
        "tool_error_rate": 0.5,
        "malformed_call_rate": 0.0,
        "injected_faults": 0,
        "terminations": {"answered": 4, "env_fault": 1, "model_error": 1},
        "faults": {"timeout": 0, "model_error": 1, "env_fault": 1, "infra_error": 0, "task_error": 0},
        "fault_rate": pytest.approx(2 / 6),
        "infra_retries": 0,
    }


def test_the_last_record_of_a_re_run_episode_is_the_one_that_counts() -> None:
    records = [rec("t1", 0, None, "infra_error"), rec("t1", 0, True)]
    assert build_report_from_records(records)["overall"]["episodes"] == 1


async def test_report_plots_and_comparison_of_two_runs(catalog: Path, ledger_tasks: list[Task], tmp_path: Path) -> None:
    oracle, random = tmp_path / "oracle", tmp_path / "random"
    await Runner(OraclePolicy(), RunConfig(samples=2), out=oracle, catalog=catalog).run(ledger_tasks)
    await Runner(RandomPolicy(), RunConfig(samples=2), out=random, catalog=catalog).run(ledger_tasks)
    a, b = build_report(oracle), build_report(random)
    assert a["overall"]["success_rate"] == 1.0
    assert a["overall"]["pass^k"] == {"1": 1.0, "2": 1.0}
    text = render_text(a)
    assert text.splitlines()[0] == "policy: oracle:None"
    comparison = compare_reports(a, b)
    assert comparison["overall"]["success_delta"] == pytest.approx(1.0 - b["overall"]["success_rate"])
    assert render_compare(comparison).splitlines()[0].startswith("compare (A vs B)")
    plots = write_plots(oracle, tmp_path / "plots", compare=random)
    assert [p.name for p in plots] == ["reward_distribution.png", "pass_hat_k.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)


async def test_sft_export_keeps_successful_episodes_with_their_tools(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    await Runner(OraclePolicy(), out=tmp_path / "run", catalog=catalog).run(ledger_tasks)
    report = export_sft(tmp_path / "run", tmp_path / "sft.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert report.written == len(rows) == len(ledger_tasks)
    assert [m["role"] for m in rows[0]["messages"]][:2] == ["system", "user"]
    assert [t["function"]["name"] for t in rows[0]["tools"]] == ["get_account", "deposit", "set_note", "audit"]


async def test_token_rollouts_interleave_model_tokens_with_masked_environment_tokens(
    catalog: Path, task_by_id: dict[str, Task], tmp_path: Path
) -> None:
    script = [Reply.call("get_account", account_id="a2"), Reply.text("75")]
    with FakeLLM(script) as llm:
        policy = LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake", return_token_ids=True)
        await Runner(policy, out=tmp_path / "run", catalog=catalog).run([task_by_id["ledger-0002"]])
    report = export_token_rollouts(tmp_path / "run", tmp_path / "tokens.jsonl")
    (row,) = [json.loads(line) for line in (tmp_path / "tokens.jsonl").read_text().splitlines()]
    assert report.written == 1
    messages = json.loads((tmp_path / "run" / "records.jsonl").read_text())["messages"]
    assert row["prompt_ids"] == tokenize(render_prompt(messages[:2]))
    assert row["prompt_ids"] + row["completion_ids"] == tokenize(render_prompt(messages)[: -len("<|assistant|>")])
    environment = tokenize(render_prompt(messages[:4])[len(render_prompt(messages[:3])) - len("<|assistant|>") :])
    assert row["completion_mask"].count(0) == len(environment)
    assert len(row["completion_logprobs"]) == len(row["completion_ids"]) == len(row["completion_mask"])
    assert (row["reward"], row["advantage"]) == (1.0, 0.0)


def test_records_without_token_data_are_left_out_of_token_rollouts_and_counted(tmp_path: Path) -> None:
    assistant = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    with RecordWriter(tmp_path) as writer:
        writer.write(rec("t1", 0, True, model_calls=[{"tokens": None}], messages=assistant, tools=[TOOL]))
    report = export_token_rollouts(tmp_path, tmp_path / "tokens.jsonl")
    assert (report.written, dict(report.dropped)) == (0, {"no_token_ids": 1})


async def test_a_hugging_face_dataset_export_loads_back(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    datasets = pytest.importorskip("datasets")
    await Runner(OraclePolicy(), RunConfig(samples=2), out=tmp_path / "run", catalog=catalog).run(ledger_tasks)
    assert export_hf_dataset(tmp_path / "run", tmp_path / "hf").written == 8
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert loaded.num_rows == 8
    assert loaded[0]["messages"][1]["role"] == "user"
