"""Synthesise tasks from an environment itself: sampled call chains whose outcome becomes the check.

`synthesize_tasks(env_dir, n=...)` connects to the compiled server in
memory, builds the tool graph (`graph.py`), finds who the users are and what
is theirs (`_world.py`), samples chains that serve one user and touch only
their records (`_chains.py`), and turns each into a task: the final-state diff
-> assertions and the `match` state rule; a read chain -> the facts the
answer must state; some chains are perturbed into requests the policy refuses
(`_refusals.py`), judged by the reason the answer must give. Each task is
checked (`_checks.py`: replay, the verifier's trivial agents, perturbations),
deduplicated (against each other and the tasks already in the file), labelled
with its difficulty, and given a user scenario and a summary
(`_instructions.py`: a template opening, or a model's wording checked against
the brief). A model only words openings: it never decides what a task is or
whether it passes.

Deterministic for a seed: chain `i` draws from `Random(f"{seed}:{i}")`, and
the environment's own randomness is seeded per session.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpfactory.runtime import parse_task
from mcpfactory.synth._chains import Chain, ChainSampler, Step, policy_problems
from mcpfactory.synth._checks import Checked, Rejected, check_refusal, check_task, free_text_masks
from mcpfactory.synth._errors import OutputError
from mcpfactory.synth._gate import verifier_rejects
from mcpfactory.synth._instructions import (
    Brief,
    brief_for,
    check_opening,
    humanize,
    model_opening,
    scenario_for,
    singular,
    template_instruction,
    template_opening,
)
from mcpfactory.synth._judge import assertions_for, real_changes
from mcpfactory.synth._refusals import make_refusal, other_owner_never
from mcpfactory.synth._session import EnvSession, import_server, open_sessions
from mcpfactory.synth._values import StateView, ValueSource, label, leaves
from mcpfactory.synth._world import World, discover_world
from mcpfactory.synth.graph import ToolGraph, build_graph
from mcpfactory.synth.model import Model

__all__ = ["SynthReport", "append_tasks", "difficulty", "read_tasks", "synthesize_tasks"]

log = logging.getLogger("mcpfactory.synth.tasks")

State = Mapping[str, Mapping[str, Any]]
_GATE_ROUNDS = 8
REFUSAL_RATE = 0.3
"""The share of chains with a write that are tried as refusals (perturbed into a request the policy refuses)."""
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?$")


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
    refusals: int = 0
    verified: bool | None = None  # whether the verifier passed the kept tasks; None: not run, or not all checked
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
            "refusals": self.refusals,
            "verified": self.verified,
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


def _likeness(mine: Any, theirs: Any) -> int:
    """How many fields two records share, to find the record another user has that is most like the user's."""
    if not isinstance(mine, Mapping) or not isinstance(theirs, Mapping):
        return 0
    return sum(1 for name, value in mine.items() if theirs.get(name) == value)


def _fact(value: Any) -> Any:
    """A value a result holds, as a typed fact: a date, a number or text."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        return {"date": value[:10]}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"number": int(value) if float(value).is_integer() else value}
    return {"text": str(value)}


def choose_outputs(
    goal: Step, stated_steps: Sequence[Step], rng: random.Random, also_stated: Sequence[str] = ()
) -> tuple[list[str], list[Any], list[str]]:
    """What the answer to a read task must state: its texts, its typed facts, and what the user asks for.

    An answer is never among the facts the user states (the arguments of the
    calls, their name): a record's field, or the names (else the ids) of up to
    five records. `([], [], [])` when the result has nothing distinctive.
    """
    stated = " ".join(
        [_canonical(v) for step in [*stated_steps, goal] for v in step.arguments.values()] + list(also_stated)
    ).lower()
    value = goal.value
    if isinstance(value, Mapping):
        ranked: list[tuple[str, Any]] = []
        for name, item in value.items():
            if isinstance(item, bool) or item is None or name == "id" or name.endswith("_id"):
                continue
            if isinstance(item, str | int | float):
                text = _show(item)
                if 3 <= len(text) <= 60 and text.lower() not in stated:
                    ranked.append((name, item))
        if not ranked:
            return [], [], []
        name, item = rng.choice(ranked)
        return [_show(item)], [_fact(item)], [humanize(name)]
    if isinstance(value, list):
        if not 1 <= len(value) <= 5:
            return [], [], []
        names = [label(item) or _record_id(item) if isinstance(item, Mapping) else item for item in value]
        if not all(isinstance(n, str) and len(n) >= 3 for n in names) or len(set(names)) != len(names):
            return [], [], []
        texts = [str(n) for n in names]
        if any(t.lower() in stated for t in texts):
            return [], [], []
        named = all(isinstance(item, Mapping) and label(item) for item in value)
        return texts, [{"text": t} for t in texts], ["names of what matches" if named else "references of what matches"]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = _show(value)
        if len(text) >= 3 and text.lower() not in stated:
            return [text], [_fact(value)], ["result"]
    return [], [], []


def _record_id(record: Mapping[str, Any]) -> str | None:
    for name, value in record.items():
        if (name == "id" or name.endswith("_id")) and isinstance(value, str):
            return value
    return None


def _replayable(task: Mapping[str, Any]) -> bool:
    """Whether repeating the task's one call is all it takes (a single write, no answer to give).

    The verifier's random agent draws, among its calls, the reference calls of
    the file's tasks, the first of each tool most often; such a task is kept
    off the file's first lines so that a replay of its own call is not what
    the random agent draws. (Stable: the order among either kind is kept.)
    """
    return len(task["solution"]) == 1 and not (task["judge"].get("facts") or [])


class _Synthesis:
    """One run: the sessions, the graph, who the users are, and the running tallies."""

    def __init__(
        self,
        env: str,
        main: EnvSession,
        scratch: EnvSession,
        seed_state: State,
        graph: ToolGraph,
        values: ValueSource,
        world: World,
        templates: Mapping[str, Mapping[str, str]],
        *,
        seed: int,
        model: Model | None,
        max_steps: int,
    ) -> None:
        self.env = env
        self.main = main
        self.seed_state = seed_state
        self.graph = graph
        self.values = values
        self.world = world
        self.templates = templates
        self.sampler = ChainSampler(main, scratch, graph, seed_state, values, world, max_steps=max_steps)
        self.model = model
        self.report = SynthReport(env=env, seed=seed)
        # Where a read can name another user's records, an answer could disclose them.
        self.exposed = world.principal is not None and any(
            p.ref == world.principal or (p.ref and world.owned(p.ref)) for t in graph.reads for p in graph.params[t]
        )

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

    # ------------------------------------------------------------------ what the user may mean and say

    def _pool(self, principal: str | None) -> Callable[[StateView, str], list[str]]:
        def pool(view: StateView, collection: str) -> list[str]:
            if principal is None or not self.world.owned(collection):
                return view.keys(collection)
            owners = self.world.owner_map(view, collection)
            return [k for k, found in owners.items() if principal in found]

        return pool

    def _internal(self, tool: str, name: str, value: Any) -> bool:
        params = {p.name: p for p in self.graph.params.get(tool, ())} if tool else {}
        return self.sampler.internal(params.get(name), value)

    def _never(self, chain: Chain, shown: Sequence[Any], said: Sequence[str], rng: random.Random) -> list[Any]:
        """Facts about another user that no answer may state, where a read could reach their records.

        The other user is the owner of the record most like one the task touches (else any other
        user); their name, email and that record's key, unless the task itself shows or says them.
        """
        world, principal = self.world, chain.principal
        if not self.exposed or principal is None or world.principal is None:
            return []
        view = StateView(self.seed_state, {})
        touched = [
            (c, k)
            for step in chain.steps
            for c, k in self.sampler.named_records(step.tool, step.arguments, view)
            if c != world.principal and world.owned(c) and principal in world.owners(view, c, k)
        ]
        other_record: tuple[str, str] | None = None
        other: str | None = None
        for collection, key in touched[:1]:
            mine = view.get(collection, key)
            theirs = world.theirs(view, principal, collection)
            if theirs and isinstance(mine, Mapping):
                best = max(theirs, key=lambda k: (_likeness(mine, view.get(collection, k)), k))
                other_record = (collection, best)
                other = sorted(world.owners(view, collection, best))[0]
        if other is None:
            others = [k for k in self.sampler.principals if k != principal]
            if not others:
                return []
            other = rng.choice(others)
        avoid = {str(leaf).lower() for value in shown for leaf in leaves(value) if isinstance(leaf, str | int | float)}
        text = " ".join(said).lower()
        person = view.get(world.principal, other)
        candidates: list[str] = []
        if label(person):
            candidates.append(str(label(person)))
        if isinstance(person, Mapping):
            candidates += [str(v) for k, v in person.items() if "email" in str(k) and isinstance(v, str)]
        if other_record is not None:
            candidates.append(other_record[1])
        out: list[Any] = []
        for candidate in candidates:
            if candidate.lower() in avoid or candidate.lower() in text or {"text": candidate} in out:
                continue
            out.append({"text": candidate})
        return out[:3]

    # ------------------------------------------------------------------ tasks

    async def candidate(
        self, chain: Chain, rng: random.Random
    ) -> tuple[dict[str, Any], str, Brief, Sequence[Step]] | Rejected:
        """A checked task from a chain (without its wording), its goal key, its brief and the calls to show."""
        problems = policy_problems(chain, self.sampler)
        if problems:
            return Rejected("policy", problems[0])
        diff = real_changes(chain.changes, self.seed_state)
        writes = chain.writes
        if writes and not diff:
            return Rejected("no_change", "the writes left the state as the seed has it")
        final = StateView(self.seed_state, chain.changes)
        principal, collection = chain.principal, self.world.principal
        who = label(final.get(collection, principal)) if principal and collection else None
        outputs: list[str] = []
        facts: list[Any] = []
        ask: list[str] = []
        asks = not any(s.role == "goal" and not s.read_only for s in chain.steps)
        if asks:
            goal = chain.steps[-1]
            outputs, facts, ask = choose_outputs(goal, chain.steps[:-1], rng, [who] if who else [])
            if not outputs:
                return Rejected("no_answer", f"{goal.tool}'s result has nothing distinctive to ask for")
        mask = await free_text_masks(self.main, chain, self.graph)
        prefer = [v for step in writes for v in step.arguments.values()]
        judge: dict[str, Any] = {"state": "match"}
        if mask:
            judge["mask"] = mask
        judge["assertions"] = assertions_for(diff, self.seed_state, prefer, mask)
        judge["facts"] = facts
        judge["ignore_args"] = {}
        # A user who registers asks for it: the registration is one of the requests.
        goals = [s for s in chain.steps if s.role == "goal" or (s.role == "identity" and not s.read_only)]
        # A registration's details are said once, in the request to register.
        identity = () if chain.steps[0].role == "identity" and not chain.steps[0].read_only else chain.identity
        describe = functools.partial(
            brief_for,
            goals,
            [s for s in chain.steps if s.role == "lookup"],
            self.graph,
            StateView(self.seed_state, goals[0].before if goals else {}),
            principal=chain.principal,
            principal_collection=self.world.principal,
            identity=identity,
            pool=self._pool(chain.principal),
            internal=self._internal,
            outputs=outputs,
            ask=ask,
            who=who,
        )
        brief = describe()
        if brief is None:
            return Rejected("undescribable", "a record the task needs cannot be told apart without its id")
        if check_opening(template_opening(brief), brief):
            return Rejected("no_answer", "the request itself states the answer")
        shown = [s.value for s in chain.steps]
        never = self._never(chain, shown, [template_opening(brief), *outputs], rng)
        if never:
            judge["never"] = never
        checked = await check_task(self.main, chain, judge, self.graph, self.seed_state, self.values, rng)
        if isinstance(checked, Rejected) and checked.reason == "redundant_write" and checked.step is not None:
            # A write that a later one undoes or overwrites: the task is the chain without it.
            index = checked.step
            if chain.steps[index].role == "identity":
                return checked
            shorter = Chain(
                chain.steps[:index] + chain.steps[index + 1 :], chain.changes, chain.principal, chain.identity
            )
            made = await self.candidate(shorter, rng)
            if isinstance(made, Rejected) and made.reason in ("replay_failed", "nondeterministic", "policy"):
                # Later calls needed the dropped write (a hold set, then lifted): the chain has no minimal form.
                return Rejected("redundant_write", f"{checked.detail}; without it: {made.detail}")
            return made
        if isinstance(checked, Rejected):
            return checked
        self._tally(checked)
        judge["ignore_args"] = checked.ignore_args
        # What does not matter when the calls are compared is not part of what the user asks for.
        brief = describe(ignored={} if asks else checked.ignore_args)
        if brief is None:
            return Rejected("undescribable", "a record the task needs cannot be told apart without its id")
        lookups = len(brief.hidden)
        task = self._task(chain.steps, judge, difficulty(len(chain.steps), len(writes), lookups))
        task["tags"] += [*(["write"] if writes else []), *(["read"] if asks else []), *(["lookup"] if lookups else [])]
        key = _goal_key(None, diff, outputs, chain.steps[-1].tool if asks else None)
        return task, key, brief, chain.steps

    async def refusal(
        self, chain: Chain, rng: random.Random
    ) -> tuple[dict[str, Any], str, Brief, Sequence[Step]] | Rejected | None:
        """A refusal task perturbed from the chain (`_refusals`), or None when no perturbation breaks a rule."""
        made = await make_refusal(self.sampler, chain, rng, self.templates)
        if made is None:
            return None
        solution = made.chain
        problems = policy_problems(solution, self.sampler)
        if problems:
            return Rejected("policy", problems[0])
        view = StateView(self.seed_state, made.request.before)
        quoted = [made.record[1]] if made.record else []
        registers = [s for s in solution.steps if s.role == "identity" and not s.read_only]
        brief = brief_for(
            [*registers, made.request],
            [s for s in solution.steps if s.role == "lookup"],
            self.graph,
            view,
            principal=chain.principal,
            principal_collection=self.world.principal,
            identity=() if registers else chain.identity,
            pool=self._pool(chain.principal),
            internal=self._internal,
            quoted=quoted,
        )
        if brief is None:
            return Rejected("undescribable", "a record the request names cannot be told apart without its id")
        reason = parse_task(
            {"id": "-", "env": "-", "instruction": "-", "solution": [], "judge": {"facts": [made.reason]}}
        ).judge.facts[0]
        if made.kind == "other_owner" and made.record is not None:
            brief.refusal = f"{singular(made.record[0])} {made.record[1]} belongs to another {self.world.noun()}"
        else:
            brief.refusal = f"{made.code} ({reason.describe()})"
        shown = [s.value for s in solution.steps]
        said = [template_opening(brief)]
        if made.kind == "other_owner":
            never = other_owner_never(self.sampler, made, shown, [v for _, v in chain.identity])
        else:
            never = self._never(solution, shown, said, rng)
        reads = {s.tool for s in solution.steps if s.read_only}
        judge: dict[str, Any] = {
            "state": "match",
            "assertions": [],
            "facts": [made.reason],
            **({"never": never} if never else {}),
            "ignore_args": {
                t: sorted(p.name for p in self.graph.params[t]) for t in sorted(reads) if self.graph.params[t]
            },
        }
        checked = await check_refusal(
            self.main,
            solution,
            judge,
            self.seed_state,
            self.graph,
            self.values,
            rng,
            from_results=made.kind == "domain",
        )
        if isinstance(checked, Rejected):
            return checked
        task = self._task(solution.steps, judge, difficulty(len(solution.steps) + 1, 1, len(brief.hidden)))
        task["tags"] += ["refusal", "other-owner" if made.kind == "other_owner" else str(made.code)]
        key = _canonical({"refusal": made.request.tool, "arguments": made.request.arguments, "code": made.code})
        self.report.refusals += 1
        return task, key, brief, [*solution.steps, *([made.request] if made.kind == "other_owner" else [])]

    def _task(self, steps: Sequence[Step], judge: dict[str, Any], level: str) -> dict[str, Any]:
        task: dict[str, Any] = {
            "id": "",
            "env": self.env,
            "instruction": "",
            "user_scenario": None,
            "initial_state": None,
            "solution": [{"tool": s.tool, "arguments": s.arguments} for s in steps],
            "judge": judge,
            "difficulty": level,
            "tags": ["synth"],
        }
        digest = hashlib.sha256(_canonical([task["solution"], judge]).encode()).hexdigest()[:10]
        task["id"] = f"{self.env}-syn-{digest}"
        return task

    def _tally(self, checked: Checked) -> None:
        self.report.perturbations += checked.perturbations
        self.report.perturbations_failed += checked.perturbations_failed

    async def word(self, task: dict[str, Any], steps: Sequence[Step], brief: Brief, rng: random.Random) -> None:
        """Fill the task's scenario and instruction: the model's opening when it fits the brief, else the template."""
        task["instruction"] = template_instruction(brief)
        opening = template_opening(brief)
        tag = "template-opening"
        if self.model is not None:
            try:
                opening, _ = await model_opening(
                    self.model, brief, steps, self.main.description, self.main.instructions
                )
            except OutputError as exc:
                log.info("%s: model opening rejected (%s); using the template", task["id"], exc)
                opening = template_opening(brief)
            else:
                tag = "model-opening"
        if tag == "model-opening":
            self.report.model_instructions += 1
        else:
            self.report.template_instructions += 1
        task["tags"].append(tag)
        task["user_scenario"] = scenario_for(brief, opening, rng)


async def synthesize_tasks(
    env_dir: Path,
    *,
    n: int = 10,
    seed: int = 0,
    max_chains: int | None = None,
    model: Model | None = None,
    existing: Sequence[Mapping[str, Any]] = (),
    max_steps: int = 8,
    verify: bool = True,
) -> SynthReport:
    """Synthesise up to `n` checked, unique tasks for the compiled environment in `env_dir`.

    Samples at most `max_chains` chains (default `10 * n`). Tasks equal in
    goal to one of `existing` (the file's current tasks) are dropped as
    duplicates. With `verify` (and a `spec.yaml` beside the server), the
    verifier's `tasks` check runs on `existing` plus the new tasks, and the
    new tasks it rejects are dropped and replaced (`_gate`). Raise `LookupError` if `env_dir` holds no compiled server,
    `ModelError` if a model is given and cannot be reached.
    """
    started = time.perf_counter()
    module = import_server(env_dir)
    env = str(getattr(module, "ENV_NAME", env_dir.name))
    budget = max_chains if max_chains is not None else 10 * n
    tools = getattr(getattr(module, "env", None), "tools", None) or {}
    templates = {name: dict(getattr(tool, "errors", {}) or {}) for name, tool in tools.items()}
    async with open_sessions(module, 2) as (main, scratch):
        await main.reset()
        seed_state = await main.full_state()
        clock = getattr(module, "CLOCK", None)
        today = clock.date() if isinstance(clock, datetime.datetime) else None
        graph = build_graph(main.tools, seed_state)
        values = ValueSource(seed_state, today)
        world = await discover_world(graph, seed_state, scratch, values)
        run = _Synthesis(
            env,
            main,
            scratch,
            seed_state,
            graph,
            values,
            world,
            templates,
            seed=seed,
            model=model,
            max_steps=max_steps,
        )
        report = run.report
        known = await run.existing_keys(existing)
        known_ids = {str(t.get("id")) for t in existing}
        index = 0
        for _ in range(_GATE_ROUNDS):
            while len(report.tasks) < n and index < budget:
                rng = random.Random(f"{seed}:{index}")
                index += 1
                report.chains += 1
                chain = await run.sampler.sample(rng)
                if chain is None:
                    report.rejected["no_chain"] += 1
                    continue
                made: tuple[dict[str, Any], str, Brief, Sequence[Step]] | Rejected | None = None
                if chain.writes and rng.random() < REFUSAL_RATE:
                    made = await run.refusal(chain, rng)
                if made is None:
                    made = await run.candidate(chain, rng)
                if isinstance(made, Rejected):
                    report.rejected[made.reason] += 1
                    log.debug("chain %d rejected: %s %s", index - 1, made.reason, made.detail)
                    continue
                task, key, brief, steps = made
                if key in known or task["id"] in known_ids:
                    report.duplicates += 1
                    continue
                known.add(key)
                known_ids.add(task["id"])
                await run.word(task, steps, brief, rng)
                report.tasks.append(task)
            if not verify or not report.tasks:
                break
            report.tasks.sort(key=_replayable)
            rejected = await verifier_rejects(env_dir, existing, report.tasks)
            report.verified = None if rejected is None else not rejected
            if not rejected:
                break
            # Rejected ids stay known: the same goal would be rejected again.
            log.info("%s: the verifier rejects %s", env, ", ".join(sorted(rejected)))
            report.rejected["verifier"] += len(rejected)
            report.tasks = [t for t in report.tasks if t["id"] not in rejected]
        report.tool_calls = run.sampler.calls
    report.seconds = time.perf_counter() - started
    if model is not None:
        report.usage = model.usage.to_json()
    return report
