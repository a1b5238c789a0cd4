"""The Ray backend runs the same episodes and writes the same records as the local one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.policies import PolicySpec
from harness.ray_backend import chunk_jobs
from harness.records import read_records
from harness.runner import RunConfig, Runner, plan_jobs
from mcpfactory.runtime import Task


def test_chunks_never_split_the_samples_of_a_task(ledger_tasks: list[Task]) -> None:
    chunks = chunk_jobs(plan_jobs(ledger_tasks, samples=3), chunk_size=2)
    assert [[(j.task.id, j.sample) for j in chunk] for chunk in chunks] == [
        [(t.id, s) for s in range(3)] for t in ledger_tasks
    ]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[object]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def summary_of(out: Path) -> list[tuple[str, float, str]]:
    return sorted((r["episode_id"], r["reward"], r["termination"]) for r in read_records(out))


async def test_episodes_on_a_local_ray_instance_match_a_local_run(
    local_ray: object, catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    spec = PolicySpec("oracle")
    await Runner(spec, RunConfig(samples=2), out=tmp_path / "local", catalog=catalog).run(ledger_tasks)
    await Runner(spec, RunConfig(samples=2, backend="ray"), out=tmp_path / "ray", catalog=catalog).run(ledger_tasks)
    assert summary_of(tmp_path / "ray") == summary_of(tmp_path / "local")
    assert len(read_records(tmp_path / "ray")) == 8
