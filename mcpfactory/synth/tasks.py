"""Synthesise tasks from an environment itself: sampled call chains whose outcome becomes the check.

`synthesize_tasks(env_dir, n=...)` connects to the compiled server in
memory, builds the tool graph (`graph.py`), samples chains that succeed from
the seed (`_chains.py`), turns each into a task (final-state diff ->
assertions and the `match` state rule; a read chain -> the facts the
answer must state), checks it (`_checks.py`), drops duplicates (of each
other and of the tasks already in the file), labels its difficulty and
writes its instruction (`_instructions.py`: a template, or a model's wording
checked against the brief). A model only phrases instructions: it never
decides what a task is or whether it passes.

Deterministic for a seed: chain `i` draws from `Random(f"{seed}:{i}")`, and
the environment's own randomness is seeded per session.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpfactory.synth._chains import Chain, ChainSampler, Step
from mcpfactory.synth._checks import Checked, Rejected, check_task
from mcpfactory.synth._errors import OutputError
from mcpfactory.synth._instructions import Brief, brief_for, humanize, model_instruction, template_instruction
from mcpfactory.synth._judge import assertions_for, real_changes
from mcpfactory.synth._session import EnvSession, import_server, open_sessions
from mcpfactory.synth._values import ValueSource, label
from mcpfactory.synth.graph import ToolGraph, build_graph
from mcpfactory.synth.model import Model

__all__ = ["SynthReport", "append_tasks", "difficulty", "read_tasks", "synthesize_tasks"]

log = logging.getLogger("mcpfactory.synth.tasks")

State = Mapping[str, Mapping[str, Any]]


@dataclass
class SynthReport:
    """What a synthesis run did: the tasks kept, and why the other chains were not."""

    env: str
    seed: int
    chains: int = 0
    tasks: list[dict[str, Any]] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    seconds: float = 0.0
    tool_calls: int = 0
    perturbations: int = 0
    perturbations_failed: int = 0
    model_instructions: int = 0
    template_instructions: int = 0
    usage: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "seed": self.seed,
            "chains": self.chains,
            "tasks": len(self.tasks),
            "duplicates": self.duplicates,
            "rejected": dict(sorted(self.rejected.items())),
            "difficulty": dict(sorted(Counter(t["difficulty"] for t in self.tasks).items())),
            "perturbations": self.perturbations,
            "perturbations_failed": self.perturbations_failed,
            "tool_calls": self.tool_calls,
            "seconds": round(self.seconds, 3),
            "tasks_per_second": round(len(self.tasks) / self.seconds, 2) if self.seconds else None,
            "model_instructions": self.model_instructions,
            "template_instructions": self.template_instructions,
            "usage": self.usage,
        }


def read_tasks(path: Path) -> list[dict[str, Any]]:
    """The tasks of a tasks.jsonl file (none if it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def append_tasks(path: Path, tasks: Sequence[Mapping[str, Any]]) -> None:
    """Append tasks as JSON lines, refusing an id the file already holds."""
    existing = {str(t.get("id")) for t in read_tasks(path)}
    clash = [str(t["id"]) for t in tasks if str(t["id"]) in existing]
    if clash:
        raise ValueError(f"{path} already holds task id(s) {', '.join(clash)}")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    text += "".join(json.dumps(dict(t), ensure_ascii=False) + "\n" for t in tasks)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def difficulty(calls: int, writes: int, lookups: int) -> str:
    """`easy`, `medium` or `hard` from the steps, the writes and the ids the agent must look up."""
    if calls >= 5 or writes >= 3 or lookups >= 3:
        return "hard"
    if calls <= 2 and writes <= 1 and lookups <= 1:
        return "easy"
    return "medium"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _fact_text(fact: Any) -> str:
    """A stored fact as text, for telling duplicate goals apart."""
    if isinstance(fact, dict) and len(fact) == 1:
        return str(next(iter(fact.values())))
    return str(fact)


def _goal_key(initial: Any, diff: State, outputs: Sequence[str], last_read: str | None) -> str:
    """What makes two tasks the same: the same start, the same end state, the same answer."""
    return _canonical(
        {"initial": initial, "diff": diff, "outputs": sorted(o.lower() for o in outputs), "read": last_read}
    )


def _show(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    return str(value)


def choose_outputs(goal: Step, lookups: Sequence[Step], rng: random.Random) -> tuple[list[str], list[str]]:
    """The strings the answer to a read task must contain, and what the user asks for, or `([], [])`.

    An answer must not be among the facts the user states (the arguments of the
    calls); a record's field, or the names (else the ids) of up to five records.
    """
    stated = " ".join(_canonical(v) for step in [*lookups, goal] for v in step.arguments.values()).lower()
    value = goal.value
    if isinstance(value, Mapping):
        ranked: list[tuple[int, str, str]] = []
        for name, item in value.items():
            if isinstance(item, bool) or item is None or name == "id" or name.endswith("_id"):
                continue
            if isinstance(item, str | int | float):
                text = _show(item)
                if len(text) >= 3 and text.lower() not in stated:
                    ranked.append((0 if isinstance(item, str) else 1, name, text))
        if not ranked:
            return [], []
        best = min(rank for rank, _, _ in ranked)
        _, name, text = rng.choice([r for r in ranked if r[0] == best])
        return [text], [humanize(name)]
    if isinstance(value, list):
        if not 1 <= len(value) <= 5:
            return [], []
        names = [label(item) or _record_id(item) if isinstance(item, Mapping) else item for item in value]
        if not all(isinstance(n, str) and len(n) >= 3 for n in names) or len(set(names)) != len(names):
            return [], []
        texts = [str(n) for n in names]
        if any(t.lower() in stated for t in texts):
            return [], []
        named = all(isinstance(item, Mapping) and label(item) for item in value)
        return texts, ["names of what matches" if named else "references of what matches"]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = _show(value)
        return ([text], ["result"]) if len(text) >= 3 and text.lower() not in stated else ([], [])
    return [], []


def _record_id(record: Mapping[str, Any]) -> str | None:
    for name, value in record.items():
        if (name == "id" or name.endswith("_id")) and isinstance(value, str):
            return value
    return None


class _Synthesis:
    """One run: the sessions, the graph and the running tallies."""

    def __init__(
        self,
        env: str,
        main: EnvSession,
        scratch: EnvSession,
        seed_state: State,
        *,
        seed: int,
        model: Model | None,
        max_steps: int,
        today: datetime.date | None,
    ) -> None:
        self.env = env
        self.main = main
        self.seed_state = seed_state
        self.graph: ToolGraph = build_graph(main.tools, seed_state)
        self.values = ValueSource(seed_state, today)
        self.sampler = ChainSampler(main, scratch, self.graph, seed_state, self.values, max_steps=max_steps)
        self.model = model
        self.report = SynthReport(env=env, seed=seed)

    async def existing_keys(self, tasks: Sequence[Mapping[str, Any]]) -> set[str]:
        """Goal keys of tasks already written, by replaying their solutions."""
        keys: set[str] = set()
        for task in tasks:
            initial = task.get("initial_state")
            await self.main.reset(initial)
            last_read = None
            for call in task.get("solution") or ():
                await self.main.call(call["tool"], call.get("arguments") or {})
                info = self.main.tools.get(call["tool"])
                last_read = call["tool"] if info is not None and info.read_only else last_read
            diff = real_changes(await self.main.changes(), self.seed_state)
            outputs = [_fact_text(f) for f in (task.get("judge") or {}).get("facts") or []]
            keys.add(_goal_key(initial, diff, outputs, None if diff else last_read))
        return keys

    async def candidate(self, chain: Chain, rng: random.Random) -> tuple[dict[str, Any], str, Brief] | Rejected:
        """A checked task from a chain (without its instruction), its goal key and its brief."""
        diff = real_changes(chain.changes, self.seed_state)
        writes = chain.writes
        if writes and not diff:
            return Rejected("no_change", "the writes left the state as the seed has it")
        outputs: list[str] = []
        ask: list[str] = []
        if not writes:
            goal = chain.steps[-1]
            outputs, ask = choose_outputs(goal, chain.steps[:-1], rng)
            if not outputs:
                return Rejected("no_answer", f"{goal.tool}'s result has nothing distinctive to ask for")
        prefer = [v for step in writes for v in step.arguments.values()]
        judge: dict[str, Any] = {
            "state": "match",
            "assertions": assertions_for(diff, self.seed_state, prefer),
            "facts": outputs,
            "ignore_args": {},
        }
        checked = await check_task(self.main, chain, judge, self.graph, self.seed_state, self.values, rng)
        if isinstance(checked, Rejected) and checked.reason == "redundant_write" and checked.step is not None:
            # A write that a later one undoes or overwrites: the task is the chain without it.
            shorter = Chain(chain.steps[: checked.step] + chain.steps[checked.step + 1 :], chain.changes)
            made = await self.candidate(shorter, rng)
            if isinstance(made, Rejected) and made.reason in ("replay_failed", "nondeterministic"):
                # Later calls needed the dropped write (a hold set, then lifted): the chain has no minimal form.
                return Rejected("redundant_write", f"{checked.detail}; without it: {made.detail}")
            return made
        if isinstance(checked, Rejected):
            return checked
        self._tally(checked)
        judge["ignore_args"] = checked.ignore_args
        brief = brief_for(chain, self.graph, self.seed_state, outputs, ask, checked.ignore_args)
        lookups = len(brief.hidden)
        task: dict[str, Any] = {
            "id": "",
            "env": self.env,
            "instruction": "",
            "user_scenario": None,
            "initial_state": None,
            "solution": [{"tool": s.tool, "arguments": s.arguments} for s in chain.steps],
            "judge": judge,
            "difficulty": difficulty(len(chain.steps), len(writes), lookups),
            "tags": ["synth", "write" if writes else "read", *(["lookup"] if lookups else [])],
        }
        digest = hashlib.sha256(_canonical([task["solution"], judge]).encode()).hexdigest()[:10]
        task["id"] = f"{self.env}-syn-{digest}"
        key = _goal_key(None, diff, outputs, None if writes else chain.steps[-1].tool)
        return task, key, brief

    def _tally(self, checked: Checked) -> None:
        self.report.perturbations += checked.perturbations
        self.report.perturbations_failed += checked.perturbations_failed

    async def instruction(self, task: dict[str, Any], chain: Chain, brief: Brief) -> None:
        """Fill the task's instruction: the model's wording when it fits the brief, else the template."""
        if self.model is not None:
            try:
                text, _ = await model_instruction(
                    self.model, brief, chain, self.main.description, self.main.instructions
                )
            except OutputError as exc:
                log.info("%s: model instruction rejected (%s); using the template", task["id"], exc)
            else:
                task["instruction"] = text
                task["tags"].append("model-instruction")
                self.report.model_instructions += 1
                return
        task["instruction"] = template_instruction(brief)
        task["tags"].append("template-instruction")
        self.report.template_instructions += 1


async def synthesize_tasks(
    env_dir: Path,
    *,
    n: int = 10,
    seed: int = 0,
    max_chains: int | None = None,
    model: Model | None = None,
    existing: Sequence[Mapping[str, Any]] = (),
    max_steps: int = 8,
) -> SynthReport:
    """Synthesise up to `n` checked, unique tasks for the compiled environment in `env_dir`.

    Samples at most `max_chains` chains (default `10 * n`). Tasks equal in
    goal to one of `existing` (the file's current tasks) are dropped as
    duplicates. Raise `LookupError` if `env_dir` holds no compiled server,
    `ModelError` if a model is given and cannot be reached.
    """
    started = time.perf_counter()
    module = import_server(env_dir)
    env = str(getattr(module, "ENV_NAME", env_dir.name))
    budget = max_chains if max_chains is not None else 10 * n
    async with open_sessions(module, 2) as (main, scratch):
        await main.reset()
        seed_state = await main.full_state()
        clock = getattr(module, "CLOCK", None)
        today = clock.date() if isinstance(clock, datetime.datetime) else None
        run = _Synthesis(env, main, scratch, seed_state, seed=seed, model=model, max_steps=max_steps, today=today)
        report = run.report
        known = await run.existing_keys(existing)
        known_ids = {str(t.get("id")) for t in existing}
        index = 0
        while len(report.tasks) < n and index < budget:
            rng = random.Random(f"{seed}:{index}")
            index += 1
            report.chains += 1
            chain = await run.sampler.sample(rng)
            if chain is None:
                report.rejected["no_chain"] += 1
                continue
            made = await run.candidate(chain, rng)
            if isinstance(made, Rejected):
                report.rejected[made.reason] += 1
                log.debug("chain %d rejected: %s %s", index - 1, made.reason, made.detail)
                continue
            task, key, brief = made
            if key in known or task["id"] in known_ids:
                report.duplicates += 1
                continue
            known.add(key)
            known_ids.add(task["id"])
            await run.instruction(task, chain, brief)
            report.tasks.append(task)
        report.tool_calls = run.sampler.calls
    report.seconds = time.perf_counter() - started
    if model is not None:
        report.usage = model.usage.to_json()
    return report
