"""Reward integrity: what agents that do not do the task earn on the whole catalog, next to the oracle.

Each agent plays every catalog task through the real litellm path, against
the loopback fake model server (`harness.testing.FakeLLM`), as a user of
`mcpfactory rollout --policy litellm` would run it:

- refusal: "I'm sorry, I can't help with that under our policy.", no calls;
- bare answer: "Done, all taken care of.", no calls;
- never answers: every model call hangs past its deadline;
- tool spam: the first tool with `{}`, every turn, until the turn limit;
- the oracle (the reference solution, asking before writes): the ceiling.

Episodes run with the default scripted user. `success` counts faults as
failures (a model that never answers is a fault, never a success);
`reward` is the mean over all episodes. No timing is asserted anywhere.

    python benchmarks/trivial_agents.py [--env ENV[,ENV...]] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from _common import REPO, machine, table

from harness.episode import EpisodeConfig
from harness.policies import LiteLLMPolicy, OraclePolicy, Policy
from harness.report import build_report_from_records
from harness.runner import RunConfig, Runner
from harness.testing import FakeLLM, Reply
from harness.user import ScriptedUser
from mcpfactory.runtime import TRIVIAL_ANSWERS, catalog_tasks, runnable_envs

CATALOG = REPO / "servers"


def _spam(request: dict[str, Any]) -> Reply:
    tools = sorted(tool["function"]["name"] for tool in request.get("tools") or [])
    return Reply.call(tools[0]) if tools else Reply.text("Done.")


AGENTS: dict[str, Callable[[dict[str, Any]], Reply]] = {
    "refusal": lambda request: Reply.text(str(TRIVIAL_ANSWERS["refusal"])),
    "bare answer": lambda request: Reply.text(str(TRIVIAL_ANSWERS["bare-done"])),
    "never answers": lambda request: Reply.hanging(),
    "tool spam": _spam,
}


async def _run(policy: Policy, tasks: list[Any], episode: EpisodeConfig) -> dict[str, Any]:
    runner = Runner(policy, RunConfig(concurrency=64, episode=episode), user=ScriptedUser(), catalog=CATALOG)
    summary = await runner.run(tasks)
    return build_report_from_records(summary.records)["overall"]


def _reward_over_all(report: dict[str, Any]) -> float:
    """The mean reward with faults counted as 0 (the harness excludes them from its own mean)."""
    if not report["episodes"]:
        return 0.0
    return float(report["mean_reward"] or 0.0) * report["agent_episodes"] / report["episodes"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", help="environments (default: every runnable catalog environment)")
    parser.add_argument("--json", help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    envs = args.env.split(",") if args.env else runnable_envs(CATALOG)
    tasks = [task for env in envs for task in catalog_tasks(env, CATALOG)]
    episode = EpisodeConfig(max_turns=30)
    results: dict[str, dict[str, Any]] = {}
    for name, script in AGENTS.items():
        # A generous deadline, so a busy machine never turns an answer into a fault; the hanging
        # model gets a short one (its episodes are faults whatever the deadline).
        timeout = 0.2 if name == "never answers" else 60.0
        with FakeLLM(script) as llm:
            policy = LiteLLMPolicy("openai/fake", api_base=llm.url, timeout=timeout, max_retries=1, backoff_s=0.0)
            results[name] = anyio.run(_run, policy, tasks, EpisodeConfig(max_turns=30, model_timeout=timeout))
    results["oracle"] = anyio.run(_run, OraclePolicy(), tasks, episode)
    print(f"{len(tasks)} tasks in {len(envs)} environments; {machine()}\n")
    rows = [
        [
            name,
            r["episodes"],
            f"{r['success_all']:.1%}",
            "-" if r["success_refusal"] is None else f"{r['success_refusal']:.1%}",
            "-" if r["success_other"] is None else f"{r['success_other']:.1%}",
            f"{_reward_over_all(r):.3f}",
            sum(r["faults"].values()),
        ]
        for name, r in results.items()
    ]
    print(table(["agent", "episodes", "success", "refusal tasks", "other tasks", "reward", "faults"], rows))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
