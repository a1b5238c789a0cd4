"""Our judge beside BFCL's own checker, on the same trajectories: does a run pass in both, or fail in both?

A trajectory is the calls an agent makes, each with the user turn it is made
in. `trajectories` derives, from a task's ground truth, the ground truth
itself, a silent agent and perturbed or partial versions of it (a call
dropped, a turn skipped, an argument changed, work done a turn early or late,
...). `crosscheck` plays each through the harness on the catalog's servers
(the runner, the judge by turns) and feeds the same calls to BFCL's
`multi_turn_checker` from the installed bfcl-eval, as BFCL's harness writes a
function-calling model's calls (`name(k=repr(v),...)`, one call a step), and
reports both verdicts.

BFCL keeps its instances in a module's globals and its classes mutate module
globals (shared default lists, long-context constants); each check here runs
as in a fresh process: the involved classes' modules are reloaded first and
the instances dropped after.
"""

from __future__ import annotations

import decimal
import importlib
import itertools
import random
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.connection import open_endpoint
from harness.conversation import AssistantTurn
from harness.env import EpisodeConfig
from harness.policies.base import PolicyView
from harness.policies.oracle import OraclePolicy
from harness.reward import ReferenceCache
from harness.runner import RunConfig, Runner
from mcpfactory.runtime import Call, Task

from ._calls import call_string
from ._errors import BFCLError
from ._source import BFCLSource, Entry

__all__ = ["PERTURBATIONS", "BFCLChecker", "Comparison", "TrajectoryPolicy", "crosscheck", "trajectory"]

Calls = tuple[Call, ...]


def _turns(calls: Calls) -> list[int]:
    return sorted({call.turn for call in calls})


def _drop_call(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    index = rng.randrange(len(calls))
    return (*calls[:index], *calls[index + 1 :])


def _drop_turn(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    turn = rng.choice(_turns(calls))
    return tuple(call for call in calls if call.turn != turn)


def _first_half(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    return tuple(call for call in calls if call.turn < turns // 2)


def _repeat_call(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    index = rng.randrange(len(calls))
    return (*calls[: index + 1], *calls[index:])


def _change(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return value[:-1] if value else None
    return None


def _change_argument(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    candidates = [
        (index, name)
        for index, call in enumerate(calls)
        for name, value in call.arguments.items()
        if _change(value) is not None
    ]
    if not candidates:
        return None
    index, name = rng.choice(candidates)
    call = calls[index]
    changed = Call(call.tool, {**call.arguments, name: _change(call.arguments[name])}, call.turn)
    return (*calls[:index], changed, *calls[index + 1 :])


def _early(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    later = [turn for turn in _turns(calls) if turn > 0]
    if not later:
        return None
    turn = rng.choice(later)
    moved = tuple(replace(call, turn=turn - 1) if call.turn == turn else call for call in calls)
    return tuple(sorted(moved, key=lambda call: call.turn))


def _late(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    earlier = [turn for turn in _turns(calls) if turn < turns - 1]
    if not earlier:
        return None
    turn = rng.choice(earlier)
    moved = tuple(replace(call, turn=turn + 1) if call.turn == turn else call for call in calls)
    return tuple(sorted(moved, key=lambda call: call.turn))


def _swap(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    pairs = [index for index in range(len(calls) - 1) if calls[index].turn == calls[index + 1].turn]
    if not pairs:
        return None
    index = rng.choice(pairs)
    return (*calls[:index], calls[index + 1], calls[index], *calls[index + 2 :])


def _int_for_float(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    def whole(value: Any) -> bool:
        return isinstance(value, float) and value.is_integer()

    if not any(whole(value) for call in calls for value in call.arguments.values()):
        return None
    return tuple(Call(c.tool, {k: int(v) if whole(v) else v for k, v in c.arguments.items()}, c.turn) for c in calls)


def _number_as_text(calls: Calls, rng: random.Random, turns: int) -> Calls | None:
    candidates = [
        (index, name)
        for index, call in enumerate(calls)
        for name, value in call.arguments.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    if not candidates:
        return None
    index, name = rng.choice(candidates)
    call = calls[index]
    changed = Call(call.tool, {**call.arguments, name: str(call.arguments[name])}, call.turn)
    return (*calls[:index], changed, *calls[index + 1 :])


PERTURBATIONS: Mapping[str, Callable[[Calls, random.Random, int], Calls | None]] = {
    "ground_truth": lambda calls, rng, turns: calls,
    "silent": lambda calls, rng, turns: (),
    "drop_call": _drop_call,
    "drop_turn": _drop_turn,
    "first_half": _first_half,
    "repeat_call": _repeat_call,
    "change_argument": _change_argument,
    "early": _early,
    "late": _late,
    "swap": _swap,
    "int_for_float": _int_for_float,
    "number_as_text": _number_as_text,
}
"""How trajectories are derived from a task's ground truth, by name; each returns None where it cannot apply."""


def trajectory(task: Task, kind: str) -> Calls | None:
    """The `kind` trajectory of a task (deterministic: drawn with a generator seeded by the task id and kind)."""
    if not task.solution and kind != "ground_truth":
        return None
    return PERTURBATIONS[kind](task.solution, random.Random(f"{task.id}/{kind}"), task.turns)


class TrajectoryPolicy:
    """Play given calls turn by turn, one call a step, then answer: the oracle, with calls other than the solution's."""

    name = "trajectory"
    model: str | None = None

    def __init__(self, calls: Mapping[str, Calls]) -> None:
        self.calls = dict(calls)
        self._oracle = OraclePolicy(confirm_writes=False)

    async def act(self, view: PolicyView) -> AssistantTurn:
        played = replace(view.task, solution=self.calls[view.task.id])
        return await self._oracle.act(replace(view, task=played))


_PACKAGE = "bfcl_eval.eval_checker.multi_turn_eval"


class BFCLChecker:
    """BFCL's `multi_turn_checker`, from the installed bfcl-eval, on one trajectory at a time as in a fresh process."""

    def __init__(self, source: BFCLSource | None = None) -> None:
        self.source = source or BFCLSource()
        try:
            self._checker = importlib.import_module(f"{_PACKAGE}.multi_turn_checker")
            self._utils = importlib.import_module(f"{_PACKAGE}.multi_turn_utils")
            backends = importlib.import_module("bfcl_eval.constants.executable_backend_config")
            self._modules: Mapping[str, str] = dict(backends.CLASS_FILE_PATH_MAPPING)
            self._long_context = importlib.import_module(f"{_PACKAGE}.func_source_code.long_context")
            self._mpmath: ModuleType | None = importlib.import_module("mpmath")
        except (ImportError, AttributeError) as exc:
            raise BFCLError(f"cannot import BFCL's multi-turn checker: {exc}") from None
        self._runs = itertools.count()

    def _fresh(self, entry: Entry) -> None:
        """Module globals as a fresh process has them, for the classes the entry involves."""
        importlib.reload(self._long_context)
        for cls in entry.classes:
            importlib.reload(importlib.import_module(self._modules[cls]))
        decimal.getcontext().prec = decimal.DefaultContext.prec
        if self._mpmath is not None:
            self._mpmath.mp.dps = 15

    def check(self, entry: Entry, calls: Sequence[Call], *, fresh: bool = True) -> tuple[bool, str | None]:
        """BFCL's verdict on the calls: `(valid, error_type)` (error_type None when valid).

        `fresh=False` skips the module reloads, as BFCL's harness runs one
        entry after another in one process.
        """
        if fresh:
            self._fresh(entry)
        steps = [
            [[call_string(call.tool, call.arguments)] for call in calls if call.turn == turn]
            for turn in range(len(entry.turns))
        ]
        name = f"mcpfactory_crosscheck_{next(self._runs)}"
        try:
            result = self._checker.multi_turn_checker(
                steps, [list(turn) for turn in entry.ground_truth], dict(entry.raw), entry.category, name
            )
        finally:
            prefix = re.sub(r"[-./:]", "_", name)
            for key in [key for key in vars(self._utils) if key.startswith(prefix)]:
                delattr(self._utils, key)
        valid = bool(result.get("valid"))
        return valid, None if valid else str(result.get("error_type"))


@dataclass(frozen=True, slots=True)
class Comparison:
    """Both judges' verdicts on one trajectory of one task.

    `ours` is our judge's verdict on the episode our harness ran (None when it
    ended in a fault). `theirs` is BFCL's checker on the trajectory's calls,
    executed as BFCL executes them; `theirs_as_run` is BFCL's checker on the
    calls our harness ran, without the `refused` ones it turned back to the
    model as malformed (arguments that do not fit the tool's schema), so it
    compares the judges on the very same executions.
    """

    task: str
    kind: str
    ours: bool | None
    theirs: bool
    theirs_as_run: bool
    refused: int = 0
    our_failures: tuple[str, ...] = ()
    their_error: str | None = None

    @property
    def agree(self) -> bool:
        """Whether the two harnesses, each running the trajectory its own way, reach the same verdict."""
        return self.ours is self.theirs

    @property
    def judges_agree(self) -> bool:
        """Whether the two judges reach the same verdict on the same executed calls."""
        return self.ours is self.theirs_as_run

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "kind": self.kind,
            "ours": self.ours,
            "theirs": self.theirs,
            "theirs_as_run": self.theirs_as_run,
            "refused": self.refused,
            "our_failures": list(self.our_failures),
            "their_error": self.their_error,
        }


async def crosscheck(
    pairs: Sequence[tuple[Entry, Task]],
    kinds: Sequence[str] = tuple(PERTURBATIONS),
    *,
    checker: BFCLChecker | None = None,
    catalog: Path | None = None,
    concurrency: int = 4,
) -> list[Comparison]:
    """Judge every trajectory of every (BFCL entry, imported task) pair with both judges."""
    checker = checker or BFCLChecker()
    envs = sorted({env for _, task in pairs for env in task.envs})
    references = ReferenceCache()
    comparisons: list[Comparison] = []
    async with AsyncExitStack() as stack:
        endpoints = {env: await stack.enter_async_context(open_endpoint(env, catalog=catalog)) for env in envs}
        for kind in kinds:
            played = {task.id: calls for _, task in pairs if (calls := trajectory(task, kind)) is not None}
            tasks = [task for _, task in pairs if task.id in played]
            limit = EpisodeConfig(max_turns=2 * max((len(played[t.id]) + t.turns for t in tasks), default=1))
            runner = Runner(
                TrajectoryPolicy(played),
                RunConfig(concurrency=concurrency, episode=limit),
                endpoints=endpoints,
                keep_records=True,
            )
            runner.references = references
            records = {record["task"]: record for record in (await runner.run(tasks)).records}
            for entry, task in pairs:
                if task.id in played:
                    comparisons.append(_compare(checker, entry, kind, played[task.id], records[task.id]))
    return comparisons


def _compare(checker: BFCLChecker, entry: Entry, kind: str, calls: Calls, record: Mapping[str, Any]) -> Comparison:
    made = list(record.get("calls") or [])
    if record["fault"]:
        ran = calls  # what the harness would have run is unknown; the verdicts below are BFCL's on the trajectory
    elif len(made) != len(calls) or any(c["tool"] != call.tool for c, call in zip(made, calls, strict=False)):
        raise BFCLError(f"the {kind} episode made other calls than its trajectory", where=entry.id)
    else:
        ran = tuple(call for call, c in zip(calls, made, strict=True) if c["malformed"] is None)
    valid, error = checker.check(entry, calls)
    valid_as_run = valid if len(ran) == len(calls) else checker.check(entry, ran)[0]
    failures = tuple(record.get("judge_failures") or ()) or (
        (str(record["termination_detail"]),) if record["fault"] else ()
    )
    ours = None if record["fault"] else bool(record["success"])
    return Comparison(entry.id, kind, ours, valid, valid_as_run, len(calls) - len(ran), failures, error)
