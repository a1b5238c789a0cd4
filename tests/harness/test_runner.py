"""The runner: concurrency without state crossing, transports, retries of infrastructure faults, records, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest

from harness.conversation import AssistantTurn
from harness.episode import EpisodeConfig
from harness.errors import HarnessError, RunMismatch
from harness.export import export_sft
from harness.policies import LiteLLMPolicy, OraclePolicy, PolicyView, RandomPolicy
from harness.records import episode_id, read_records
from harness.runner import RunConfig, Runner, plan_jobs
from harness.testing import FakeLLM, Reply
from mcpfactory.runtime import Task

from .conftest import make_task


def isolation_tasks(count: int) -> list[Task]:
    """Tasks that each write their own value on the same record and check it is theirs at the end."""
    return [
        make_task(
            f"iso-{i:04d}",
            f"Note n{i} on a1 and deposit {i + 1}.",
            [
                ("set_note", {"account_id": "a1", "note": f"n{i}"}),
                ("deposit", {"account_id": "a1", "amount": i + 1}),
                ("get_account", {"account_id": "a1"}),
            ],
            assertions=[
                {"path": ["accounts", "a1", "note"], "op": "==", "value": f"n{i}"},
                {"path": ["accounts", "a1", "balance"], "op": "==", "value": 100 + i + 1},
            ],
        )
        for i in range(count)
    ]


class BarrierPolicy:
    """The oracle, but every episode waits at its second turn until all episodes have reached it."""

    name = "oracle"
    model = None

    def __init__(self, count: int) -> None:
        self.inner = OraclePolicy()
        self.count = count
        self.arrived = 0
        self.all_in = anyio.Event()

    async def act(self, view: PolicyView) -> AssistantTurn:
        if view.turn == 1:
            self.arrived += 1
            if self.arrived == self.count:
                self.all_in.set()
            await self.all_in.wait()
        return await self.inner.act(view)


def assert_every_episode_saw_only_its_own_writes(records: list[dict[str, Any]], count: int) -> None:
    assert len(records) == count
    for record in records:
        i = int(record["task"].split("-")[1])
        assert record["reward"] == 1.0, record["reward_components"]
        assert record["calls"][2]["result"] == {"account_id": "a1", "owner": "Ada", "balance": 101 + i, "note": f"n{i}"}


async def test_a_thousand_concurrent_in_memory_episodes_never_see_each_others_state(catalog: Path) -> None:
    policy = BarrierPolicy(1000)
    with anyio.fail_after(60):
        summary = await Runner(policy, RunConfig(concurrency=1000), catalog=catalog).run(isolation_tasks(1000))
    assert policy.arrived == 1000  # all 1,000 sessions were open, mid-episode, at the same time
    assert_every_episode_saw_only_its_own_writes(summary.records, 1000)


async def test_concurrent_episodes_on_one_http_server_process_never_see_each_others_state(catalog: Path) -> None:
    policy = BarrierPolicy(100)
    config = RunConfig(concurrency=100, transport="http")
    with anyio.fail_after(60):
        summary = await Runner(policy, config, catalog=catalog).run(isolation_tasks(100))
    assert_every_episode_saw_only_its_own_writes(summary.records, 100)
    assert {r["transport"] for r in summary.records} == {"http"}


@pytest.mark.soak
async def test_a_thousand_concurrent_episodes_on_one_http_server_process_never_see_each_others_state(
    catalog: Path,
) -> None:
    policy = BarrierPolicy(1000)
    with anyio.fail_after(600):
        summary = await Runner(policy, RunConfig(concurrency=1000, transport="http"), catalog=catalog).run(
            isolation_tasks(1000)
        )
    assert_every_episode_saw_only_its_own_writes(summary.records, 1000)


async def test_stdio_servers_are_pooled_and_reset_between_episodes(catalog: Path) -> None:
    config = RunConfig(concurrency=4, pool_size=2, transport="stdio")
    with anyio.fail_after(60):
        summary = await Runner(OraclePolicy(), config, catalog=catalog).run(isolation_tasks(8))
    assert_every_episode_saw_only_its_own_writes(summary.records, 8)


def _server_pids(module: str) -> list[int]:
    """Child processes of this test process running `python -m <module>`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and module.encode() in command:
            pids.append(int(entry.name))
    return pids


class KillServerOnce:
    """The oracle, which kills the stdio server process under it at the second turn of its first episode."""

    name = "oracle"
    model = None

    def __init__(self) -> None:
        self.inner = OraclePolicy()
        self.killed: list[int] = []

    async def act(self, view: PolicyView) -> AssistantTurn:
        if view.turn == 1 and not self.killed:
            self.killed = _server_pids("harness_catalog.ledger")
            for pid in self.killed:
                os.kill(pid, signal.SIGKILL)
        return await self.inner.act(view)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the server process through /proc")
async def test_a_stdio_server_killed_mid_episode_is_an_infra_error_and_the_episode_is_retried(
    catalog: Path, task_by_id: dict[str, Task]
) -> None:
    policy = KillServerOnce()
    config = RunConfig(transport="stdio", pool_size=1, max_attempts=3)
    with anyio.fail_after(60):
        summary = await Runner(policy, config, catalog=catalog).run([task_by_id["ledger-0001"]])
    (record,) = summary.records
    assert len(policy.killed) == 1
    assert (record["termination"], record["attempt"], record["reward"]) == ("answered", 2, 1.0)
    (failure,) = record["infra_failures"]
    assert failure["attempt"] == 1
    assert failure["detail"].startswith("ledger: connection lost")
    assert summary.retried == 1


async def test_records_stream_to_jsonl_and_resume_skips_finished_episodes(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    first = await Runner(OraclePolicy(), RunConfig(samples=2), out=out, catalog=catalog).run(ledger_tasks)
    assert first.episodes == 8
    records = read_records(out)
    assert sorted(r["episode_id"] for r in records) == sorted(
        episode_id("ledger", t.id, s) for t in ledger_tasks for s in range(2)
    )
    assert all({"task", "env", "reward", "termination"} <= set(r) for r in records)
    assert all(isinstance(r["reward"], float) for r in records)

    again = await Runner(OraclePolicy(), RunConfig(samples=2, resume=True), out=out, catalog=catalog).run(ledger_tasks)
    assert (again.episodes, again.skipped) == (0, 8)

    assert len(read_records(out)) == 8
    assert all(record["tools"] for record in read_records(out))
    assert json.loads((out / "run.json").read_text())["policy"] == {"name": "oracle", "model": None}


@pytest.mark.parametrize(
    ("policy", "config", "changed"),
    [
        (RandomPolicy(), RunConfig(samples=2, resume=True), "policy"),
        (OraclePolicy(), RunConfig(samples=3, resume=True), "samples"),
        (OraclePolicy(), RunConfig(samples=2, seed=1, resume=True), "seed"),
    ],
)
async def test_resume_refuses_another_policy_group_size_or_seed(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path, policy: Any, config: RunConfig, changed: str
) -> None:
    await Runner(OraclePolicy(), RunConfig(samples=2), out=tmp_path, catalog=catalog).run(ledger_tasks[:1])
    with pytest.raises(RunMismatch) as raised:
        await Runner(policy, config, out=tmp_path, catalog=catalog).run(ledger_tasks[:1])
    assert str(raised.value).split(": ", 1)[1].split(":")[0] == changed
    assert len(read_records(tmp_path)) == 2


async def test_resume_refuses_another_model_or_sampler_setting(
    catalog: Path, task_by_id: dict[str, Task], tmp_path: Path
) -> None:
    script = [Reply.call("get_account", account_id="a2"), Reply.text("75")]
    with FakeLLM(script) as llm:
        first = LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake", temperature=0.7, max_tokens=256)
        await Runner(first, out=tmp_path, catalog=catalog).run([task_by_id["ledger-0002"]])
        recorded = json.loads((tmp_path / "run.json").read_text())["sampler"]
        assert (recorded["temperature"], recorded["max_tokens"], recorded["send_seed"]) == (0.7, 256, True)
        (record,) = read_records(tmp_path)
        assert record["sampler"] == recorded
        assert llm.requests[0]["seed"] == record["seed"]
        hotter = LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake", temperature=1.0, max_tokens=256)
        with pytest.raises(RunMismatch):
            await Runner(hotter, RunConfig(resume=True), out=tmp_path, catalog=catalog).run([task_by_id["ledger-0002"]])
        other = LiteLLMPolicy("openai/other", api_base=llm.url, api_key="fake", temperature=0.7, max_tokens=256)
        with pytest.raises(RunMismatch):
            await Runner(other, RunConfig(resume=True), out=tmp_path, catalog=catalog).run([task_by_id["ledger-0002"]])


async def test_a_run_refuses_to_append_to_existing_records_without_resume(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    await Runner(OraclePolicy(), out=tmp_path, catalog=catalog).run(ledger_tasks[:1])
    with pytest.raises(HarnessError, match="--resume"):
        await Runner(OraclePolicy(), out=tmp_path, catalog=catalog).run(ledger_tasks[:1])


async def test_a_torn_last_line_is_dropped_and_its_episode_run_again_on_resume(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    await Runner(OraclePolicy(), out=tmp_path, catalog=catalog).run(ledger_tasks)
    records = (tmp_path / "records.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "records.jsonl").write_bytes(b"".join(records[:-1]) + records[-1][:40])
    assert len(read_records(tmp_path)) == 3
    resumed = await Runner(OraclePolicy(), RunConfig(resume=True), out=tmp_path, catalog=catalog).run(ledger_tasks)
    assert (resumed.episodes, resumed.skipped) == (1, 3)
    assert sorted(r["task"] for r in read_records(tmp_path)) == sorted(t.id for t in ledger_tasks)


async def test_episodes_that_failed_on_infrastructure_are_run_again_on_resume(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    from harness.faults import FaultConfig

    broken = RunConfig(max_attempts=1, episode=EpisodeConfig(faults=FaultConfig(drop_rate=1.0)))
    await Runner(OraclePolicy(), broken, out=tmp_path, catalog=catalog).run(ledger_tasks[:2])
    assert {r["termination"] for r in read_records(tmp_path)} == {"infra_error"}
    resumed = await Runner(OraclePolicy(), RunConfig(resume=True), out=tmp_path, catalog=catalog).run(ledger_tasks[:2])
    assert (resumed.episodes, resumed.skipped) == (2, 0)
    from harness.records import latest_records

    assert {r["termination"] for r in latest_records(read_records(tmp_path))} == {"answered"}


CRASHING_RUN = """
import os, sys
import anyio
sys.path.insert(0, {catalog_parent!r})
from harness import OraclePolicy, RunConfig, Runner
from mcpfactory.runtime import load_tasks

class Crash:
    name = "oracle"
    model = None
    async def act(self, view):
        if view.task.id == "ledger-0003":
            os._exit(3)  # a hard crash: no cleanup, no flush beyond what the writer already did
        return await OraclePolicy().act(view)

tasks = load_tasks({tasks!r})
anyio.run(Runner(Crash(), RunConfig(concurrency=1), out={out!r}, catalog=__import__("pathlib").Path({catalog!r})).run, tasks)
"""


async def test_records_survive_a_crash_of_the_runner_and_resume_finishes_the_run(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    script = CRASHING_RUN.format(
        catalog_parent=str(catalog.parent),
        tasks=str(catalog / "ledger" / "tasks.jsonl"),
        out=str(out),
        catalog=str(catalog),
    )
    crashed = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, timeout=60)
    assert crashed.returncode == 3, crashed.stderr.decode()
    assert [r["task"] for r in read_records(out)] == ["ledger-0001", "ledger-0002"]
    resumed = await Runner(OraclePolicy(), RunConfig(resume=True), out=out, catalog=catalog).run(ledger_tasks)
    assert (resumed.episodes, resumed.skipped) == (2, 2)
    assert sorted(r["task"] for r in read_records(out)) == [t.id for t in ledger_tasks]
    report = export_sft(out, tmp_path / "sft.jsonl")
    assert (report.written, dict(report.dropped)) == (4, {})
    exported = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert [len(row["tools"]) for row in exported] == [4, 4, 4, 4]


def test_samples_of_a_task_are_adjacent_and_each_has_its_own_seed(ledger_tasks: list[Task]) -> None:
    jobs = plan_jobs(ledger_tasks[:2], samples=3, seed=7)
    assert [(j.task.id, j.sample) for j in jobs] == [
        ("ledger-0001", 0),
        ("ledger-0001", 1),
        ("ledger-0001", 2),
        ("ledger-0002", 0),
        ("ledger-0002", 1),
        ("ledger-0002", 2),
    ]
    assert len({j.seed for j in jobs}) == 6
    assert [j.seed for j in plan_jobs(ledger_tasks[:2], samples=3, seed=7)] == [j.seed for j in jobs]


async def test_the_random_policy_is_deterministic_given_the_run_seed(catalog: Path, ledger_tasks: list[Task]) -> None:
    def calls(summary: Any) -> list[Any]:
        return sorted((r["episode_id"], [(c["tool"], c["arguments"]) for c in r["calls"]]) for r in summary.records)

    one = await Runner(RandomPolicy(), RunConfig(samples=2, seed=1), catalog=catalog).run(ledger_tasks)
    two = await Runner(RandomPolicy(), RunConfig(samples=2, seed=1), catalog=catalog).run(ledger_tasks)
    other = await Runner(RandomPolicy(), RunConfig(samples=2, seed=2), catalog=catalog).run(ledger_tasks)
    assert calls(one) == calls(two)
    assert calls(one) != calls(other)


async def test_a_replayed_run_makes_the_same_calls_and_earns_the_same_rewards(
    catalog: Path, ledger_tasks: list[Task], tmp_path: Path
) -> None:
    from harness.policies import ReplayPolicy

    await Runner(RandomPolicy(), RunConfig(samples=2, seed=5), out=tmp_path / "a", catalog=catalog).run(ledger_tasks)
    replay = ReplayPolicy.from_file(tmp_path / "a")
    await Runner(replay, RunConfig(samples=2, seed=5), out=tmp_path / "b", catalog=catalog).run(ledger_tasks)

    def outcome(run: str) -> list[Any]:
        return sorted(
            (r["episode_id"], r["reward"], [(c["tool"], c["raw_arguments"]) for c in r["calls"]])
            for r in read_records(tmp_path / run)
        )

    assert outcome("b") == outcome("a")


async def test_a_task_whose_solution_calls_an_unknown_tool_is_a_task_error_not_retried(catalog: Path) -> None:
    broken = make_task("broken", "Do the impossible.", [("no_such_tool", {})], facts=["x"])
    summary = await Runner(OraclePolicy(), RunConfig(max_attempts=3), catalog=catalog).run([broken])
    (record,) = summary.records
    assert (record["termination"], record["fault"], record["attempt"], record["infra_failures"]) == (
        "task_error",
        True,
        1,
        [],
    )
    assert "no_such_tool" in record["termination_detail"]
