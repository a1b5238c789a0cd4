"""Scale-out on Ray: the same episodes, run as Ray tasks, with the same records and report.

The driver keeps the records file: it splits the jobs into chunks (a task's
samples stay together), runs each chunk as a Ray task that opens its own
endpoints and runs the local runner, and writes each chunk's records as the
chunk finishes. Policies travel as a `PolicySpec` and are built on the worker.

Needs `ray` (`pip install ray`); `--ray-address` joins a cluster, otherwise a
local Ray instance is started. On a cluster the workers need this package and
the catalog at the same path as the driver. Each chunk opens its endpoints
afresh: cheap in memory, one process start per chunk for stdio and HTTP.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from harness.episode import EpisodeJob
from harness.errors import HarnessError
from mcpfactory.runtime import catalog_root

if TYPE_CHECKING:
    from harness.runner import RunConfig, Runner

__all__ = ["chunk_jobs", "run_chunk", "run_on_ray"]


def chunk_jobs(jobs: Sequence[EpisodeJob], chunk_size: int) -> list[list[EpisodeJob]]:
    """Split jobs into chunks of about `chunk_size`, never splitting a task's samples."""
    chunks: list[list[EpisodeJob]] = []
    current: list[EpisodeJob] = []
    for job in jobs:
        same_group = current and current[-1].task.id == job.task.id and current[-1].task.env == job.task.env
        if current and len(current) >= chunk_size and not same_group:
            chunks.append(current)
            current = []
        current.append(job)
    if current:
        chunks.append(current)
    return chunks


def run_chunk(spec: Any, config: RunConfig, jobs: list[EpisodeJob], catalog: str, user: Any) -> list[dict[str, Any]]:
    """Run one chunk of jobs in this process (a Ray worker) and return their records."""
    from harness.runner import Runner

    records: list[dict[str, Any]] = []
    runner = Runner(spec, replace(config, backend="local", progress=False), user=user, catalog=Path(catalog))

    def keep(record: Mapping[str, Any]) -> None:
        records.append(dict(record))

    async def main() -> None:
        await runner.run_jobs(jobs, keep)

    anyio.run(main)
    return records


async def run_on_ray(runner: Runner, jobs: Sequence[EpisodeJob], emit: Callable[[Mapping[str, Any]], None]) -> None:
    """Run `jobs` on Ray and `emit` every record in the driver as its chunk completes."""
    try:
        ray: Any = importlib.import_module("ray")  # optional dependency, untyped
    except ModuleNotFoundError:
        raise HarnessError("--backend ray needs the `ray` package: pip install ray") from None
    if runner.spec is None:
        raise HarnessError("the Ray backend needs a PolicySpec (policies are built on the workers)")
    config = runner.config
    if not ray.is_initialized():
        if config.ray_address:
            ray.init(address=config.ray_address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    workers = max(1, int(ray.available_resources().get("CPU", 1)))
    per_chunk = max(1, math.ceil(config.concurrency / workers))
    chunk_size = max(1, min(per_chunk * 4, math.ceil(len(jobs) / workers)))
    chunks = chunk_jobs(jobs, chunk_size)
    remote = ray.remote(run_chunk).options(num_cpus=1, max_retries=2)
    catalog = str((runner.catalog or catalog_root()).resolve())
    chunk_config = replace(config, concurrency=per_chunk)
    pending = iter(chunks)

    async def worker() -> None:
        for chunk in pending:
            records = await remote.remote(runner.spec, chunk_config, chunk, catalog, runner.user)
            for record in records:
                emit(record)

    async with anyio.create_task_group() as group:
        for _ in range(min(workers, len(chunks))):
            group.start_soon(worker)
