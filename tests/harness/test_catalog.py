"""Every catalog environment with tasks: the oracle scores 1.0 on every task, a random policy far less."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.policies import OraclePolicy, RandomPolicy
from harness.runner import RunConfig, Runner
from mcpfactory.runtime import Task, catalog_root, catalog_tasks

CATALOG = Path(__file__).resolve().parents[2] / "servers"


def _envs() -> list[Any]:
    params: list[Any] = []
    for tasks in sorted(CATALOG.glob("*/tasks.jsonl")):
        env = tasks.parent.name
        marks: list[pytest.MarkDecorator] = []
        if not (tasks.parent / "server.py").exists():
            marks.append(pytest.mark.skip(reason=f"servers/{env}/server.py is not compiled (mcpfactory compile)"))
        params.append(pytest.param(env, id=env, marks=marks))
    return params or [pytest.param("none", marks=pytest.mark.skip(reason="no catalog environment has tasks"))]


def test_the_catalog_is_found_from_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CATALOG.parent)
    assert catalog_root() == CATALOG


@pytest.mark.parametrize("env", _envs())
async def test_oracle_scores_one_on_every_task_of_the_environment(env: str) -> None:
    tasks = catalog_tasks(env, CATALOG)
    summary = await Runner(OraclePolicy(), RunConfig(concurrency=32), catalog=CATALOG).run(tasks)
    missed = {r["task"]: (r["termination"], r["reward_components"]) for r in summary.records if r["reward"] != 1.0}
    assert missed == {}
    assert summary.episodes == len(tasks)


@pytest.mark.parametrize("env", _envs())
async def test_random_policy_scores_far_less_than_the_oracle(env: str) -> None:
    tasks = catalog_tasks(env, CATALOG)
    summary = await Runner(RandomPolicy(), RunConfig(samples=3, concurrency=32), catalog=CATALOG).run(tasks)
    assert summary.agent_episodes == 3 * len(tasks)
    assert summary.mean_reward is not None and summary.mean_reward < 0.5


async def test_oracle_scores_one_and_random_less_on_the_fixture_environment(
    catalog: Path, ledger_tasks: list[Task]
) -> None:
    oracle = await Runner(OraclePolicy(), catalog=catalog).run(ledger_tasks)
    random = await Runner(RandomPolicy(), RunConfig(samples=8), catalog=catalog).run(ledger_tasks)
    assert [r["reward"] for r in oracle.records] == [1.0] * len(ledger_tasks)
    assert random.mean_reward is not None and random.mean_reward < 0.6
