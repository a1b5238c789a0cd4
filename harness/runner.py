"""The runner: many episodes under one concurrency limit, retried on infrastructure faults, streamed to JSONL.

- Jobs are `(task, sample)` pairs; the samples of a task (a GRPO group) are
  scheduled next to each other, each with its own seed.
- At most `concurrency` episodes run at once, in this process (`backend="local"`)
  or spread over a Ray cluster (`backend="ray"`, see `harness.ray_backend`).
- An episode that ends in `infra_error` is run again, up to `max_attempts`;
  the failed attempts are listed in the final record's `infra_failures`.
  Nothing else is retried: a model error or an environment fault is a result.
- Each record is written (and fsync'd) as its episode finishes; `resume`
  skips the episodes already in the file, so a crashed run picks up where it died.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

import anyio

from harness.connection import Endpoint, Transport, open_endpoint
from harness.episode import FAULT_TERMINATIONS, EpisodeConfig, EpisodeJob, Termination, run_episode
from harness.errors import HarnessError, RunMismatch
from harness.policies.base import Policy, PolicySpec
from harness.records import RECORDS_FILE, RecordWriter, finished_episodes, read_records
from harness.reward import ReferenceCache
from harness.user import UserSimulator
from mcpfactory.runtime import Task

__all__ = ["RunConfig", "RunSummary", "Runner", "plan_jobs"]

logger = logging.getLogger("harness.runner")

Backend = Literal["local", "ray"]
RUN_FILE = "run.json"
_FAULTS = {str(t) for t in FAULT_TERMINATIONS}


def _episode_seed(run_seed: int, episode: str) -> int:
    digest = hashlib.sha256(f"{run_seed}:{episode}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def plan_jobs(tasks: Iterable[Task], samples: int = 1, seed: int = 0) -> list[EpisodeJob]:
    """One job per task and sample, a task's samples adjacent; seeds derive from the run seed and episode id."""
    jobs = []
    for task in tasks:
        for sample in range(samples):
            job = EpisodeJob(task, sample, 0)
            jobs.append(EpisodeJob(task, sample, _episode_seed(seed, job.episode_id)))
    return jobs


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How a run is carried out. `pool_size` is the stdio process pool (default: min(concurrency, 8))."""

    samples: int = 1
    concurrency: int = 16
    max_attempts: int = 3
    seed: int = 0
    transport: Transport = "memory"
    pool_size: int | None = None
    url: str | None = None
    control_secret: str | None = None
    episode: EpisodeConfig = field(default_factory=EpisodeConfig)
    backend: Backend = "local"
    ray_address: str | None = None
    progress: bool = False
    resume: bool = False
    fsync: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "concurrency": self.concurrency,
            "max_attempts": self.max_attempts,
            "seed": self.seed,
            "transport": self.transport,
            "pool_size": self.pool_size,
            "url": self.url,
            "episode": self.episode.to_json(),
            "backend": self.backend,
        }


@dataclass
class RunSummary:
    """What a run did. `records` holds every record when the runner was asked to keep them."""

    episodes: int = 0
    skipped: int = 0
    retried: int = 0
    terminations: Counter[str] = field(default_factory=Counter)
    successes: int = 0
    reward_sum: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def agent_episodes(self) -> int:
        """Episodes that ended for a reason attributable to the agent (faults excluded)."""
        return self.episodes - sum(n for reason, n in self.terminations.items() if reason in _FAULTS)

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.agent_episodes if self.agent_episodes else None

    @property
    def mean_reward(self) -> float | None:
        return self.reward_sum / self.agent_episodes if self.agent_episodes else None

    def add(self, record: Mapping[str, Any], keep: bool) -> None:
        self.episodes += 1
        self.terminations[str(record["termination"])] += 1
        self.retried += len(record.get("infra_failures") or [])
        if not record.get("fault"):
            self.reward_sum += float(record["reward"])
            self.successes += bool(record.get("success"))
        if keep:
            self.records.append(dict(record))

    def to_json(self) -> dict[str, Any]:
        return {
            "episodes": self.episodes,
            "skipped": self.skipped,
            "retried": self.retried,
            "terminations": dict(self.terminations),
            "success_rate": self.success_rate,
            "mean_reward": self.mean_reward,
        }


class _Progress:
    """A rich progress bar with the live success rate, or nothing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._done = 0
        self._ok = 0
        self._agent = 0
        self._faults = 0
        if enabled and total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("rollout"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task("rollout", total=total, status="")

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def update(self, record: Mapping[str, Any]) -> None:
        self._done += 1
        if record.get("fault"):
            self._faults += 1
        else:
            self._agent += 1
            self._ok += bool(record.get("success"))
        if self._bar is not None:
            rate = f"{self._ok / self._agent:.1%}" if self._agent else "-"
            self._bar.update(self._task, advance=1, status=f"success {rate}  faults {self._faults}")


class Runner:
    """Run episodes of tasks with one policy; write records to `out` (a run folder) as they finish.

    `policy` is a `Policy` object, or a `PolicySpec` (required by the Ray
    backend, which builds the policy on each worker). `endpoints` supplies
    already-open endpoints by environment name (servers outside the catalog,
    shared endpoints in tests); other environments are opened from `catalog`
    with the configured transport.
    """

    def __init__(
        self,
        policy: Policy | PolicySpec,
        config: RunConfig | None = None,
        *,
        out: Path | str | None = None,
        user: UserSimulator | None = None,
        endpoints: Mapping[str, Endpoint] | None = None,
        catalog: Path | None = None,
        keep_records: bool | None = None,
        errlog: TextIO | None = None,
        on_record: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.spec = policy if isinstance(policy, PolicySpec) else None
        self.policy: Policy | None = None if isinstance(policy, PolicySpec) else policy
        self.config = config or RunConfig()
        self.out = Path(out) if out is not None else None
        self.user = user
        self.endpoints = dict(endpoints or {})
        self.catalog = catalog
        self.keep_records = keep_records if keep_records is not None else self.out is None
        self.errlog = errlog
        self.on_record = on_record
        self.references = ReferenceCache()

    # public ---------------------------------------------------------------------
    async def run(self, tasks: Sequence[Task]) -> RunSummary:
        """Run every task `samples` times; return the summary (records are in `out`, and in it if kept)."""
        jobs = plan_jobs(tasks, self.config.samples, self.config.seed)
        summary = RunSummary()
        if self.out is not None:
            existing = read_records(self.out)
            if existing and not self.config.resume:
                raise HarnessError(f"{self.out / RECORDS_FILE} already holds records: pass --resume or another --out")
            if existing:
                self._check_resume()
            done = finished_episodes(existing)
            summary.skipped = sum(1 for job in jobs if job.episode_id in done)
            jobs = [job for job in jobs if job.episode_id not in done]
            self._write_run_file(tasks)
        if not jobs:
            return summary
        writer = RecordWriter(self.out, fsync=self.config.fsync) if self.out is not None else None
        with writer or contextlib.nullcontext(), _Progress(len(jobs), self.config.progress) as progress:

            def emit(record: Mapping[str, Any]) -> None:
                if writer is not None:
                    writer.write(record)
                summary.add(record, self.keep_records)
                progress.update(record)
                if self.on_record is not None:
                    self.on_record(record)

            if self.config.backend == "ray":
                from harness.ray_backend import run_on_ray

                await run_on_ray(self, jobs, emit)
            else:
                await self.run_jobs(jobs, emit)
        return summary

    async def run_jobs(self, jobs: Sequence[EpisodeJob], emit: Callable[[Mapping[str, Any]], None]) -> None:
        """Run jobs in this process under the concurrency limit, calling `emit` with each final record."""
        policy = self.policy or (self.spec.build() if self.spec else None)
        assert policy is not None
        warm_up = getattr(policy, "warm_up", None)
        if callable(warm_up):
            await warm_up()  # imports and connections are paid here, not inside any episode's deadline
        envs = sorted({env for job in jobs for env in job.task.envs})
        async with self._endpoints(envs) as endpoints:
            pending = iter(jobs)

            async def worker() -> None:
                for job in pending:
                    emit(await self._run_with_retries(job, policy, {env: endpoints[env] for env in job.task.envs}))

            async with anyio.create_task_group() as group:
                for _ in range(min(self.config.concurrency, len(jobs))):
                    group.start_soon(worker)

    # internals ---------------------------------------------------------------------
    async def _run_with_retries(
        self, job: EpisodeJob, policy: Policy, endpoint: Endpoint | Mapping[str, Endpoint]
    ) -> dict[str, Any]:
        failures: list[dict[str, Any]] = []
        attempts = max(1, self.config.max_attempts)
        for attempt in range(1, attempts + 1):
            record = await run_episode(
                job,
                policy,
                endpoint,
                config=self.config.episode,
                references=self.references,
                attempt=attempt,
                user=self.user,
            )
            if record["termination"] != Termination.INFRA_ERROR or attempt == attempts:
                record["infra_failures"] = failures
                return record
            logger.info(
                "%s: attempt %d failed on infrastructure: %s", job.episode_id, attempt, record["termination_detail"]
            )
            failures.append({"attempt": attempt, "detail": record["termination_detail"]})
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def _endpoints(self, envs: Sequence[str]) -> AsyncIterator[dict[str, Endpoint]]:
        opened = {env: self.endpoints[env] for env in envs if env in self.endpoints}
        config = self.config
        async with AsyncExitStack() as stack:
            for env in envs:
                if env in opened:
                    continue
                opened[env] = await stack.enter_async_context(
                    open_endpoint(
                        env,
                        config.transport,
                        catalog=self.catalog,
                        pool_size=config.pool_size or min(config.concurrency, 8),
                        url=config.url,
                        control_secret=config.control_secret,
                        errlog=self.errlog,
                        call_timeout=config.episode.tool_timeout,
                    )
                )
            yield opened

    def _identity(self) -> dict[str, Any]:
        """What makes the episodes of a run samples of one distribution: the policy, its sampler, group and seed."""
        policy = self.policy or (self.spec.build() if self.spec else None)
        name = self.spec.name if self.spec else getattr(self.policy, "name", "?")
        model = self.spec.model if self.spec else getattr(self.policy, "model", None)
        sampler = getattr(policy, "sampler", None)
        return {
            "policy": {"name": name, "model": model},
            "sampler": sampler() if callable(sampler) else None,
            "samples": self.config.samples,
            "seed": self.config.seed,
        }

    def _check_resume(self) -> None:
        """Refuse to resume a run with another policy, model, sampler, group size or seed (`RunMismatch`)."""
        assert self.out is not None
        path = self.out / RUN_FILE
        if not path.exists():
            return
        recorded = json.loads(path.read_text(encoding="utf-8"))
        current = json.loads(json.dumps(self._identity()))  # compare as the file holds it (lists, not tuples)
        before = {
            "policy": recorded.get("policy"),
            "sampler": recorded.get("sampler"),
            "samples": (recorded.get("config") or {}).get("samples"),
            "seed": (recorded.get("config") or {}).get("seed"),
        }
        # A run.json from before samplers were recorded says nothing about its sampler.
        keys = [key for key in ("policy", "sampler", "samples", "seed") if key != "sampler" or "sampler" in recorded]
        changed = [key for key in keys if before[key] != current[key]]
        if changed:
            details = "; ".join(f"{key}: recorded {before[key]!r}, asked {current[key]!r}" for key in changed)
            raise RunMismatch(f"{self.out} was run with other settings, so --resume would mix two runs: {details}")

    def _write_run_file(self, tasks: Sequence[Task]) -> None:
        assert self.out is not None
        self.out.mkdir(parents=True, exist_ok=True)
        identity = self._identity()
        meta = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "policy": identity["policy"],
            "sampler": identity["sampler"],
            "config": self.config.to_json(),
            "envs": sorted({task.env for task in tasks}),
            "tasks": len(tasks),
        }
        path = self.out / RUN_FILE
        runs = json.loads(path.read_text(encoding="utf-8")).get("runs", []) if path.exists() else []
        runs.append(meta)
        path.write_text(json.dumps({**meta, "runs": runs}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
