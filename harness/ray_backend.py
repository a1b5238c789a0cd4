"""Scale-out on Ray: the same episodes, run as Ray tasks, with the same records and report.

The driver keeps the records file: it splits the jobs into chunks (a task's
samples stay together), runs each chunk as a Ray task that opens its own
endpoints and runs the local runner, and writes each chunk's records as the
chunk finishes. Policies travel as a `PolicySpec` and are built on the worker.

Needs `ray` (`pip install ray`); `--ray-address` joins a cluster, otherwise a
local Ray node is started for the run and stopped after it. That node belongs
to a watchdog process (`harness._ray_node`) that holds a pipe from the driver:
when the driver ends, however it ends (SIGKILL included), the watchdog stops
every Ray process, the raylet's agents included, so none outlives the run. On
a cluster the workers need this package and the catalog at the same path as
the driver. Each chunk opens its endpoints afresh: cheap in memory, one
process start per chunk for stdio and HTTP. The records are the ones the
local backend writes (the driver writes them; run.json likewise).
"""

from __future__ import annotations

import importlib
import math
import os
import secrets
import selectors
import socket
import subprocess
import sys
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

__all__ = ["chunk_jobs", "run_chunk", "run_on_ray", "start_local_node"]


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
    config = runner.config
    if not config.ray_address and "ray" not in sys.modules:
        # The local node requires a token of this run's own; Ray reads it when it is imported, so set it first.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    try:
        ray: Any = importlib.import_module("ray")  # optional dependency, untyped
    except ModuleNotFoundError:
        raise HarnessError("--backend ray needs the `ray` package: pip install ray") from None
    if runner.spec is None:
        raise HarnessError("the Ray backend needs a PolicySpec (policies are built on the workers)")
    node: subprocess.Popen[bytes] | None = None
    if not ray.is_initialized():
        if config.ray_address:
            ray.init(address=config.ray_address, log_to_driver=False)
        else:
            node, address = await anyio.to_thread.run_sync(start_local_node)
            ray.init(address=address, log_to_driver=False)
    try:
        await _run(ray, runner, jobs, emit)
    finally:
        if node is not None:
            ray.shutdown()
            stop_local_node(node)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_local_node(num_cpus: int | None = None, timeout: float = 180.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start a local Ray node owned by a watchdog that stops it when this process ends; return it and its address.

    The node requires this process's `RAY_AUTH_TOKEN` (a fresh one is set when
    there is none); Ray reads it at import, so set it before importing `ray`
    to join the node from this process.

    Raises `HarnessError` when the node does not come up within `timeout` seconds.
    """
    port = _free_port()
    # Ray's token authentication: the node takes this process's token (run_on_ray sets one before importing ray).
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    command = [sys.executable, "-m", "harness._ray_node", "--port", str(port)]
    if num_cpus:
        command += ["--num-cpus", str(num_cpus)]
    # Its own session: a signal to the driver's process group must not take the watchdog down before it cleans up.
    node = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    assert node.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(node.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout)
    line = node.stdout.readline().decode(errors="replace").strip() if ready else ""
    if line != "ready":
        stop_local_node(node)
        raise HarnessError(f"the local Ray node did not start: {line or f'no answer in {timeout:g} s'}")
    return node, f"127.0.0.1:{port}"


def stop_local_node(node: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Close the driver's end of the watchdog's pipe and wait for it to stop the node."""
    if node.stdin is not None:
        node.stdin.close()
    try:
        node.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        node.kill()
        node.wait()


async def _run(ray: Any, runner: Runner, jobs: Sequence[EpisodeJob], emit: Callable[[Mapping[str, Any]], None]) -> None:
    config = runner.config
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
