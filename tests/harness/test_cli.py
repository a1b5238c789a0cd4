"""`mcpfactory rollout`, `report` and `export`, run in process through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.records import read_records
from harness.testing import FakeLLM, Reply
from mcpfactory.cli import main


def rollout(catalog: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "rollout",
            "--env",
            "ledger",
            "--catalog",
            str(catalog),
            "--out",
            str(out),
            "--no-progress",
            "--allow-unverified",  # the fixture catalog has no verifier manifest
            *extra,
        ]
    )


def test_rollout_writes_records_and_report_summarises_them(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert rollout(catalog, out, "--policy", "oracle", "--samples", "2") == 0
    assert (
        capsys.readouterr().out.splitlines()[0] == f"8 episode(s) run, 0 already recorded, 0 retried; records in {out}"
    )
    records = read_records(out)
    assert {(r["task"], r["reward"], r["termination"]) for r in records} == {
        (f"ledger-000{i}", 1.0, "answered") for i in range(1, 5)
    }

    assert main(["report", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["report"]["overall"]["pass^k"] == {"1": 1.0, "2": 1.0}
    assert [Path(p).name for p in payload["plots"]] == ["reward_distribution.png", "pass_hat_k.png"]

    assert rollout(catalog, out, "--policy", "oracle", "--samples", "2", "--resume") == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("0 episode(s) run, 8 already recorded")


def test_report_compares_two_runs(catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout(catalog, tmp_path / "a", "--policy", "oracle") == 0
    assert rollout(catalog, tmp_path / "b", "--policy", "random", "--samples", "2", "--seed", "3") == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "a"), "--compare", str(tmp_path / "b"), "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "compare (A vs B)" in text
    assert "\nall " in text


def test_rollout_with_a_litellm_policy_against_an_openai_compatible_server(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def script(request: dict[str, Any]) -> Reply:
        if request["messages"][-1]["role"] == "user":
            return Reply.call("get_account", account_id="a2")
        return Reply.text("The balance is 75.")

    with FakeLLM(script) as llm:
        code = rollout(
            catalog,
            tmp_path / "run",
            "--policy", "litellm", "--model", "openai/fake", "--api-base", llm.url, "--task-ids", "ledger-0002",
        )  # fmt: skip
    assert code == 0
    (record,) = read_records(tmp_path / "run")
    assert (record["termination"], record["reward"], record["policy"]) == (
        "answered",
        1.0,
        {"name": "litellm", "model": "openai/fake"},
    )


def test_export_writes_sft_examples(catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout(catalog, tmp_path / "run", "--policy", "oracle") == 0
    assert main(["export", str(tmp_path / "run"), "--format", "sft", "--out", str(tmp_path / "sft.jsonl")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote 4 row(s) to {tmp_path / 'sft.jsonl'}"


def test_rollout_without_an_environment_or_tasks_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--env ENV"):
        main(["rollout", "--out", str(tmp_path)])


def test_the_demo_rollouts_run_the_oracle_and_print_what_trivial_agents_earn(catalog: Path) -> None:
    from harness.cli import run_demo_rollouts

    said: list[str] = []
    assert run_demo_rollouts(said.append, samples=1, catalog=catalog, verified_only=False) == 0
    assert [line for line in said if line.startswith("==")] == [
        "== oracle policy (the reference: it must score 1.0) ==",
        "== agents that do not do the task (no task may reward them) ==",
    ]
    floor = {line.split()[0] for line in said if line.startswith(("trivial-", "random"))}
    assert floor == {"trivial-silent", "trivial-refusal", "trivial-bare-done", "trivial-tool-spam", "random"}


def test_the_progress_bar_goes_to_stderr(catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout(catalog, tmp_path / "run", "--policy", "oracle", "--progress") == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("4 episode(s) run")
    assert "success 100.0%" in captured.err


def test_rollout_refuses_an_unverified_environment(catalog: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["rollout", "--env", "ledger", "--catalog", str(catalog), "--out", str(tmp_path), "--no-progress"])
    assert "only verified environments run" in str(caught.value)


def test_train_refuses_an_unknown_environment_before_loading_anything(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--model", "tiny-random", "--env", "nope"]) == 1
    assert capsys.readouterr().err.startswith("mcpfactory train: no environment 'nope' in ")
