"""Keep only what the verifier passes: its `tasks` check, run on the file the tasks will be written to.

Synthesis plays the verifier's trivial agents itself (`_checks`), but one of
them cannot be played exactly outside the verifier: its random agent draws
calls from the reference solutions of every task in the file (so it sometimes
repeats a one-write task's write). The gate writes the file as it will be (the
tasks already there, then the new ones) beside a copy of the spec, runs
`mcpfactory.verify.verify_env(..., checks=["static", "tasks"])` on it, and
returns the new tasks it rejects. Dropping a task changes the calls the random
agent draws from, so the caller runs the gate again until it passes.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread

__all__ = ["verifier_rejects"]

_TASK = re.compile(r": task (\S+): ")


def _verify(folder: Path, budget: float) -> tuple[bool, list[str], dict[str, Any]]:
    from mcpfactory.verify import verify_env

    report = verify_env(folder / "spec.yaml", checks=["static", "tasks"], budget=budget)
    check = report.check("tasks")
    return check.passed, list(check.evidence), dict(check.stats or {})


async def verifier_rejects(
    env_dir: Path, existing: Sequence[Mapping[str, Any]], tasks: Sequence[Mapping[str, Any]]
) -> set[str] | None:
    """The ids among `tasks` that the verifier's `tasks` check rejects in the file `existing + tasks`.

    None when the verifier cannot be run here (no `spec.yaml` beside the
    server) or did not check every task within its budget.
    """
    spec = env_dir / "spec.yaml"
    if not spec.exists():
        return None
    ours = {str(t["id"]) for t in tasks}
    with tempfile.TemporaryDirectory(prefix="mcpf-synth-gate-") as scratch:
        folder = Path(scratch) / env_dir.name
        folder.mkdir()
        shutil.copy2(spec, folder / "spec.yaml")
        if (env_dir / "data").is_dir():
            shutil.copytree(env_dir / "data", folder / "data")
        lines = [json.dumps(dict(task), ensure_ascii=False) for task in [*existing, *tasks]]
        (folder / "tasks.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        budget = max(120.0, 2.0 * len(lines))
        passed, evidence, stats = await anyio.to_thread.run_sync(_verify, folder, budget)
    if stats.get("checked", len(lines)) < len(lines):
        return None
    if passed:
        return set()
    return {m.group(1) for line in evidence if (m := _TASK.search(line)) and m.group(1) in ours}
