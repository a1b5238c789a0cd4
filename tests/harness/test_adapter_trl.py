"""TRL (pinned in the `trl` extra): catalog environments as GRPOTrainer environments, and `mcpfactory train`.

Against the real package: the tool schemas TRL renders from the environment's
methods, a rollout's calls and reward through the environment, TRL's
SFTTrainer tokenising an exported row with a tool-calling chat template, and
two real GRPO steps on CPU with a tiny random model (the CLI, in a process of
its own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl", reason="the trl extra is not installed: pip install 'mcpfactory[trl]'")

from transformers.utils import get_json_schema

from harness.adapters.trl import environment_class, environment_factory, environment_reward, task_dataset
from harness.export import export_hf_dataset, export_sft
from harness.gym import BlockingGym
from harness.policies import LiteLLMPolicy
from harness.runner import Runner
from harness.testing import FakeLLM, Reply
from mcpfactory.runtime import Task, catalog_tasks

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gym() -> Any:
    with BlockingGym() as opened:
        yield opened


def test_the_tools_trl_renders_from_the_environment_are_the_servers_tools(gym: BlockingGym) -> None:
    environment = environment_class("todo", gym)()
    episode = gym.open("todo", "todo-0001")
    listed = episode.tools
    episode.close()
    for tool in listed:
        rendered = get_json_schema(getattr(environment, tool["function"]["name"]))["function"]
        parameters = tool["function"]["parameters"]
        assert rendered["name"] == tool["function"]["name"]
        assert sorted(rendered["parameters"]["properties"]) == sorted(parameters["properties"])
        assert rendered["parameters"].get("required", []) == parameters.get("required", [])
        for name, schema in parameters["properties"].items():
            if "enum" in schema:
                assert rendered["parameters"]["properties"][name]["enum"] == schema["enum"]


def test_a_rollout_calls_tools_through_its_episode_and_the_environment_judges_the_answer(gym: BlockingGym) -> None:
    records: list[dict[str, Any]] = []
    factory = environment_factory("todo", gym=gym, on_record=records.append)
    assert callable(factory)
    solved, silent = factory(), factory()
    (task,) = [t for t in catalog_tasks("todo") if t.id == "todo-0001"]
    for environment in (solved, silent):
        assert environment.reset(task=task.id, seed=5, prompt=[], env="todo") is None
    for step in task.solution:
        result = getattr(solved, step.tool)(**step.arguments)
        assert not result.startswith("Error")
    assert solved.find_tasks(status="never").startswith("Error: Invalid arguments for find_tasks")
    answer = [{"role": "assistant", "content": "Overdue: Draft Q2 budget review, Send churn analysis to Priya."}]
    rewards = environment_reward([answer, [{"role": "assistant", "content": "Nothing is overdue."}]], [solved, silent])
    assert rewards == [1.0, 0.0]
    assert [(r["task"], r["sample"], r["termination"], r["reward"]) for r in records] == [
        ("todo-0001", 0, "answered", 1.0),
        ("todo-0001", 1, "answered", 0.0),
    ]
    assert all(len(record["tools"]) == 5 for record in records)


def test_a_rollout_that_stops_without_an_answer_is_truncated(gym: BlockingGym) -> None:
    environment = environment_class("todo", gym)()
    environment.reset(task="todo-0001")
    environment.list_projects()
    tool_turn = [{"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "list_projects"}}]}]
    assert environment_reward([tool_turn], [environment]) == [0.0]


def test_the_task_dataset_is_conversational_and_routes_rows_to_their_environment() -> None:
    dataset = task_dataset("todo", ids=["todo-0001", "todo-0002"])
    assert dataset.column_names == ["prompt", "env", "task", "seed", "environment"]
    row = dataset[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert (row["env"], row["task"], row["environment"]) == ("todo", "todo-0001", "todo")
    assert row["prompt"][1]["content"] == catalog_tasks("todo")[0].opening


# Tokenising a tool-calling conversation goes through transformers' deprecations of TRL's 1.x call sites.
@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning")
async def test_trls_sft_data_path_renders_an_exported_row_without_double_encoded_arguments(
    catalog: Path, task_by_id: dict[str, Task], tmp_path: Path
) -> None:
    from trl import SFTConfig, SFTTrainer

    from harness.adapters.tiny import build_tiny_random

    script = [Reply.call("get_account", account_id="a2"), Reply.text("75")]
    with FakeLLM(script) as llm:
        policy = LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake")
        await Runner(policy, out=tmp_path / "run", catalog=catalog).run([task_by_id["ledger-0002"]])
    assert export_hf_dataset(tmp_path / "run", tmp_path / "hf").written == 1
    assert export_sft(tmp_path / "run", tmp_path / "sft.jsonl").written == 1
    import datasets

    model, tokenizer = build_tiny_random(tmp_path / "tiny")
    for dataset in (
        datasets.load_from_disk(str(tmp_path / "hf")),
        datasets.load_dataset("json", data_files=str(tmp_path / "sft.jsonl"), split="train"),
    ):
        trainer = SFTTrainer(
            model=model,
            processing_class=tokenizer,
            train_dataset=dataset.select_columns(["messages", "tools"]),
            args=SFTConfig(output_dir=str(tmp_path / "sft"), report_to="none", use_cpu=True, max_length=None),
        )
        text = tokenizer.decode(trainer.train_dataset[0]["input_ids"])
        assert '{"name": "get_account", "arguments": {"account_id": "a2"}}' in text
        assert '"arguments": "' not in text
        assert '"name": "deposit"' in text  # the tools are in the prompt


def test_train_says_when_it_cannot_load_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mcpfactory.cli import main

    missing = tmp_path / "no-such-model"
    assert main(["train", "--model", str(missing), "--env", "todo", "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith(f"mcpfactory train: cannot load the model {str(missing)!r}: ")


@pytest.mark.slow
def test_mcpfactory_train_runs_two_grpo_steps_on_cpu_and_logs_reward_per_step(tmp_path: Path) -> None:
    out = tmp_path / "train"
    command = [
        sys.executable, "-m", "mcpfactory.cli", "train", "--trainer", "trl", "--model", "tiny-random",
        "--env", "todo", "--steps", "2", "--num-generations", "2", "--max-completion-length", "16",
        "--cpu", "--out", str(out),
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    said = [line for line in done.stdout.splitlines() if line.startswith("step ")]
    assert [line.split(":")[0] for line in said] == ["step 1", "step 2"]
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2]
    assert all(0.0 <= entry["reward"] <= 1.0 and "rewards/mcpfactory/mean" in entry for entry in log)
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 4 and {r["env"] for r in records} == {"todo"}
    assert all(len(record["tools"]) == 5 and record["termination"] for record in records)
    assert json.loads((out / "run.json").read_text())["train"]["num_generations"] == 2
    assert (out / "model" / "config.json").exists()
