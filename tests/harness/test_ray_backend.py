"""The Ray backend runs the same episodes and writes the same records as the local one."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.export import export_sft
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
    # Everything the local backend writes: the same record fields, run.json, and tools an export finds on every row.
    assert {tuple(sorted(r)) for r in read_records(tmp_path / "ray")} == {
        tuple(sorted(r)) for r in read_records(tmp_path / "local")
    }
    local_run, ray_run = (json.loads((tmp_path / name / "run.json").read_text()) for name in ("local", "ray"))
    assert (ray_run["policy"], ray_run["sampler"]) == (local_run["policy"], local_run["sampler"])
    report = export_sft(tmp_path / "ray", tmp_path / "sft.jsonl")
    assert (report.written, dict(report.dropped)) == (8, {})
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert [len(row["tools"]) for row in rows] == [4] * 8


KILLED_DRIVER = """
import json, os, signal, sys
from pathlib import Path
sys.path.insert(0, {catalog_parent!r})
import anyio
from harness._ray_node import _descendants
from harness.export import export_sft
from harness.policies import PolicySpec
from harness.runner import RunConfig, Runner
from mcpfactory.runtime import load_tasks

def die(record):
    # Ray is busy now: workers, daemons and the raylet's agents are up. Note who they are, then die hard.
    me = os.getpid()
    (node,) = [p for p in _descendants(me) if b"harness._ray_node" in Path(f"/proc/{{p}}/cmdline").read_bytes()]
    Path({ledger!r}).write_text(json.dumps({{"node": node, "ray": _descendants(node)}}))
    os.kill(me, signal.SIGKILL)

tasks = load_tasks({tasks!r})
runner = Runner(PolicySpec("oracle"), RunConfig(samples=2, backend="ray"), out={out!r},
                catalog=Path({catalog!r}), on_record=die)
anyio.run(runner.run, tasks)
"""


def test_killing_the_driver_stops_every_process_of_its_local_ray_node(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    ledger = tmp_path / "ray-processes.json"
    temp_dirs = sorted(Path(tempfile.gettempdir()).glob("mcpf-ray-*"))
    script = KILLED_DRIVER.format(
        catalog_parent=str(catalog.parent),
        ledger=str(ledger),
        tasks=str(catalog / "ledger" / "tasks.jsonl"),
        out=str(tmp_path / "run"),
        catalog=str(catalog),
    )
    driver = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, timeout=400)
    assert driver.returncode == -signal.SIGKILL, driver.stderr.decode()[-3000:]
    noted = json.loads(ledger.read_text())
    assert len(noted["ray"]) >= 4  # gcs, raylet, the monitors, agents and workers
    node = os.pidfd_open(noted["node"])
    try:
        ready, _, _ = select.select([node], [], [], 120)  # readable once the watchdog has exited
    finally:
        os.close(node)
    assert ready, "the watchdog did not stop the Ray node"
    alive = [pid for pid in noted["ray"] if Path(f"/proc/{pid}").exists()]
    assert alive == []
    # Nor its temp dir, whose ray_current_cluster file a later `ray.init()` on this machine would follow.
    assert sorted(Path(tempfile.gettempdir()).glob("mcpf-ray-*")) == temp_dirs
    assert len(read_records(tmp_path / "run")) == 1  # the driver died right after writing its first record
