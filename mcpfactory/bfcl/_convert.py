"""BFCL multi-turn entries as tasks of the catalog's bfcl_* environments, judged turn by turn.

One entry becomes one task:

- `env`: the environment of each involved class, in BFCL's order (the
  model is offered their tools in that order, as BFCL offers its docs);
- `initial_state`: each environment's scenario, `{"config": <the class's
  slice of initial_config>, "long_context": <category is long_context>}`,
  which builds exactly the instance BFCL builds (`null` for MathAPI, which
  BFCL builds without its configuration);
- `user_scenario`: the first turn's message as `opening`, the others as
  `turns`; a turn where BFCL adds held-out functions says what BFCL's user
  says then (read from the installed package);
- `solution`: the ground-truth calls with the turn each answers;
- `tools_from_turn`: miss_func's held-out functions and the turn they are
  offered from. miss_param needs nothing of its own: its entries ask without
  a value, answer in a later turn, and the asking turn has no ground truth;
- `judge`: `{"kind": "turns", "view": "bfcl"}`, BFCL's state and response checks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mcpfactory.runtime import TaskFileError, UnknownEnvironment, parse_task, server_module

from ._calls import parse_call
from ._errors import BFCLError
from ._source import CATEGORIES, CLASS_ENVS, BFCLSource, Entry

__all__ = ["bfcl_task", "import_bfcl", "tool_parameters"]


def tool_parameters(envs: Iterable[str], root: Path | None = None) -> dict[str, dict[str, list[str]]]:
    """Each environment's tools and their parameter names in order, from the catalog's compiled servers."""
    tools: dict[str, dict[str, list[str]]] = {}
    for env in envs:
        try:
            module = server_module(env, root)
        except UnknownEnvironment as exc:
            raise BFCLError(f"the catalog has no compiled {env}: {exc}") from None
        tools[env] = {
            name: list((tool.mcp_tool.input_schema or {}).get("properties") or {})
            for name, tool in module.env.tools.items()
        }
    return tools


def bfcl_task(
    entry: Entry,
    tools: Mapping[str, Mapping[str, Sequence[str]]],
    added_prompt: str,
    stateless: Collection[str] = (),
) -> dict[str, Any]:
    """The task JSON of one entry; `tools` maps each environment to its tools' parameter names.

    `added_prompt` is what the user says where held-out functions are added;
    the classes in `stateless` start from a `null` configuration, as BFCL
    never loads one into them.

    Raises `BFCLError` naming the entry and field for a ground-truth call that
    is not a call of the entry's tools, a turn without a message that adds no
    function, or a task the strict task loader refuses.
    """
    envs = [CLASS_ENVS[cls] for cls in entry.classes]
    params: dict[str, Sequence[str]] = {}
    for env in envs:
        params.update(tools[env])
    turns = [text or (added_prompt if turn in entry.held_out.values() else "") for turn, text in enumerate(entry.turns)]
    for turn, text in enumerate(turns):
        if not text:
            raise BFCLError("a turn with no user message that adds no function", where=f"{entry.id}.question[{turn}]")
    if len(set(turns)) != len(turns):
        # The scripted user and the oracle tell turns apart by their text.
        raise BFCLError("two turns say the same thing", where=f"{entry.id}.question")
    unknown = sorted(set(entry.held_out) - set(params))
    if unknown:
        raise BFCLError(f"held-out {', '.join(unknown)} are not tools of the task", where=f"{entry.id}.missed_function")
    solution = []
    for turn, calls in enumerate(entry.ground_truth):
        for index, text in enumerate(calls):
            tool, arguments = parse_call(text, params, where=f"{entry.id}.ground_truth[{turn}][{index}]")
            solution.append({"tool": tool, "arguments": arguments, "turn": turn})
    scenarios = {
        env: {
            "scenario": {
                "config": None if cls in stateless else entry.initial_config.get(cls, {}),
                "long_context": entry.long_context,
            }
        }
        for cls, env in zip(entry.classes, envs, strict=True)
    }
    task: dict[str, Any] = {
        "id": entry.id,
        "env": envs if len(envs) > 1 else envs[0],
        "instruction": (
            f"BFCL multi-turn {entry.category} task {entry.id}: {len(turns)} user turns over "
            f"{', '.join(entry.classes)}."
        ),
        "user_scenario": {"opening": turns[0], "turns": turns[1:]},
        "initial_state": scenarios if len(envs) > 1 else scenarios[envs[0]],
        "solution": solution,
        "judge": {"kind": "turns", "view": "bfcl"},
        "tags": ["bfcl", entry.category],
    }
    if entry.held_out:
        task["tools_from_turn"] = dict(entry.held_out)
    try:
        parse_task(task, path=entry.id)
    except TaskFileError as exc:
        raise BFCLError(f"not a valid task: {exc}", where=entry.id) from None
    return task


def import_bfcl(
    out: Path,
    categories: Sequence[str] = CATEGORIES,
    *,
    source: BFCLSource | None = None,
    root: Path | None = None,
) -> dict[str, int]:
    """Write `out/<category>.jsonl` for each category; return how many tasks each file holds.

    Every task is checked before any file is written, and each file is
    replaced whole (written beside it, then renamed), so a failed import
    leaves `out` as it was.
    """
    source = source or BFCLSource()
    tools = tool_parameters(CLASS_ENVS.values(), root)
    prompt, stateless = source.added_functions_prompt, source.stateless
    files = {
        category: [bfcl_task(entry, tools, prompt, stateless) for entry in source.entries(category)]
        for category in categories
    }
    out.mkdir(parents=True, exist_ok=True)
    for category, tasks in files.items():
        path = out / f"{category}.jsonl"
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text("".join(json.dumps(task, ensure_ascii=False) + "\n" for task in tasks), encoding="utf-8")
        os.replace(partial, path)
    return {category: len(tasks) for category, tasks in files.items()}
