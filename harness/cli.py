"""The harness's subcommands of the `mcpfactory` CLI: `rollout`, `report`, `export` and `train`.

`mcpfactory.cli` calls `register(subparsers)` when this module exists; each
subcommand sets `func(args) -> int`. Heavy modules (litellm, matplotlib,
ray, torch and the trainers) are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["register", "run_demo_rollouts"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `rollout`, `report`, `export` and `train` to the `mcpfactory` command line."""
    p = subparsers.add_parser(
        "rollout",
        help="run a policy on an environment's tasks; write one JSON record per episode",
        description="Run episodes (task x sample) with a policy; records stream to OUT/records.jsonl.",
    )
    p.add_argument("--env", help="environment name, comma-separated names, or 'all' (every env with tasks)")
    p.add_argument("--tasks", help="a tasks JSONL file (default: servers/<env>/tasks.jsonl)")
    p.add_argument("--catalog", help="the catalog folder holding <env>/server.py (default: ./servers)")
    p.add_argument("--task-ids", help="only these task ids (comma-separated)")
    p.add_argument(
        "--policy",
        default="oracle",
        metavar="POLICY",
        help="who plays the agent: oracle (default), random, litellm, replay, or trivial-silent, trivial-refusal, "
        "trivial-bare-done, trivial-tool-spam (agents that do not do the task, to check no task rewards them)",
    )
    p.add_argument("--model", help="litellm model name, e.g. openai/gpt-4o or openai/<served-name> with --api-base")
    p.add_argument("--api-base", help="OpenAI-compatible base URL (vLLM, SGLang, a fake)")
    p.add_argument("--api-key", help="API key (default: the provider's environment variable)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--logprobs", action="store_true", help="ask for logprobs (kept in records)")
    p.add_argument("--return-token-ids", action="store_true", help="ask a vLLM server for prompt and completion ids")
    p.add_argument("--replay", help="records file or run folder to replay (with --policy replay)")
    p.add_argument("--samples", type=int, default=1, help="episodes per task (a GRPO group); default 1")
    p.add_argument("--concurrency", type=int, default=16, help="episodes at once; default 16")
    p.add_argument("--transport", choices=["memory", "stdio", "http"], default="memory")
    p.add_argument("--pool-size", type=int, help="stdio server processes per environment (default: min(C, 8))")
    p.add_argument("--url", help="with --transport http: an already running server instead of starting one")
    p.add_argument("--control-secret", help="with --url: the server's control secret")
    p.add_argument("--out", help="run folder (default: runs/<env>-<policy>-<UTC time>)")
    p.add_argument("--resume", action="store_true", help="skip episodes already recorded in --out")
    p.add_argument(
        "--allow-unverified",
        action="store_true",
        help="also run environments the verifier has not passed for their current spec",
    )
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local Ray instance)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-turns", type=int, default=30)
    p.add_argument("--model-timeout", type=float, default=120.0, help="seconds per model call attempt")
    p.add_argument("--tool-timeout", type=float, default=30.0, help="seconds per tool call")
    p.add_argument("--episode-timeout", type=float, help="seconds per episode")
    p.add_argument("--max-attempts", type=int, default=3, help="attempts per episode on infrastructure errors")
    p.add_argument("--reward", choices=["all_or_nothing", "blend", "partial"], default="all_or_nothing")
    p.add_argument("--extra-call-penalty", type=float, default=0.0)
    p.add_argument("--malformed-call-penalty", type=float, default=0.0)
    p.add_argument("--fault-transient", type=float, default=0.0, help="rate of injected transient tool errors")
    p.add_argument("--fault-latency", type=float, default=0.0, help="rate of injected latency")
    p.add_argument("--fault-latency-s", type=float, default=0.5)
    p.add_argument("--fault-drop", type=float, default=0.0, help="rate of injected dropped connections")
    p.add_argument(
        "--user",
        choices=["scripted", "none"],
        default="scripted",
        help="who answers the agent: the task's scripted user (default), or nobody (one answer ends the episode)",
    )
    p.add_argument("--user-model", help="simulate the user with this model instead (tau-bench style)")
    p.add_argument("--user-api-base", help="OpenAI-compatible base URL for --user-model")
    p.add_argument("--user-api-key", help="API key for --user-model (default: the provider's variable)")
    p.add_argument("--check-invariants", action="store_true", help="record invariant violations of the final state")
    p.add_argument(
        "--system-prompt",
        metavar="TEXT",
        help="the system message (default: the environment's policy text; '' sends none, as BFCL's harness does)",
    )
    p.add_argument(
        "--tool-descriptions",
        metavar="FILE",
        help="JSON {tool: {description, parameters: {name: description}}}: the wording the model reads for those "
        "tools (e.g. BFCL's, written by mcpfactory import bfcl)",
    )
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar")
    p.set_defaults(func=_cmd_rollout)

    p = subparsers.add_parser("report", help="summarise a run: success, pass@k, pass^k, errors, plots")
    p.add_argument("run", help="run folder (or records.jsonl)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--compare", help="another run folder to compare with")
    p.add_argument("--plots", help="folder for PNG plots (default: RUN/plots)")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_cmd_report)

    p = subparsers.add_parser("export", help="write a run's records in the shape a trainer consumes")
    p.add_argument("run", help="run folder (or records.jsonl)")
    p.add_argument("--format", choices=["sft", "tokens", "hf"], required=True)
    p.add_argument("--out", required=True, help="output file (sft, tokens) or folder (hf)")
    p.add_argument("--min-reward", type=float, help="keep episodes with at least this reward (sft default: 1.0)")
    p.add_argument(
        "--include-faults",
        action="store_true",
        help="also keep faults and episodes with no assistant turn (left out by default, and counted)",
    )
    p.add_argument("--keep-malformed", action="store_true", help="sft: also keep episodes with malformed calls")
    p.add_argument(
        "--advantage",
        choices=["mean", "mean_std", "none"],
        default="mean",
        help="tokens: reward minus the group mean (default), also over the group's std (GRPO), or none",
    )
    p.set_defaults(func=_cmd_export)

    p = subparsers.add_parser(
        "train",
        help="train a model with RL on catalog environments (GRPO through TRL)",
        description="GRPO on catalog environments: each rollout is an episode, scored by the task's judge. "
        "Writes the model, every rollout's record (records.jsonl) and the reward per step (train_log.jsonl) to --out.",
    )
    p.add_argument("--trainer", choices=["trl"], default="trl", help="the trainer (TRL's GRPOTrainer)")
    p.add_argument("--model", required=True, help="a model name or folder, or tiny-random (built locally, for tests)")
    p.add_argument("--env", required=True, help="environment name, or comma-separated names")
    p.add_argument("--task-ids", help="only these task ids (comma-separated)")
    p.add_argument("--catalog", help="the catalog folder holding <env>/server.py (default: ./servers)")
    p.add_argument("--num-generations", "--group-size", type=int, default=4, help="rollouts per task (GRPO group)")
    p.add_argument("--steps", type=int, default=10, help="optimizer steps")
    p.add_argument("--learning-rate", type=float, default=1e-6)
    p.add_argument("--max-turns", type=int, default=10, help="tool calls per rollout")
    p.add_argument("--max-completion-length", type=int, default=512, help="tokens per rollout, tool results included")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, help="rollouts per device per step (default: the group size)")
    p.add_argument("--generation", choices=["transformers", "vllm"], default="transformers")
    p.add_argument("--vllm-mode", choices=["colocate", "server"], default="colocate")
    p.add_argument("--reward", choices=["all_or_nothing", "blend", "partial"], default="all_or_nothing")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even where a GPU is present")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default: runs/train-<env>-<UTC time>)")
    p.add_argument(
        "--allow-unverified", action="store_true", help="also train on environments the verifier has not passed"
    )
    p.set_defaults(func=_cmd_train)


def _tasks(args: argparse.Namespace) -> list[Any]:
    from mcpfactory.runtime import catalog_tasks, load_tasks, runnable_envs

    ids = args.task_ids.split(",") if args.task_ids else None
    root = Path(args.catalog).resolve() if args.catalog else None
    if args.tasks:
        envs = None if args.env in (None, "all") else args.env.split(",")
        tasks = [t for t in load_tasks(args.tasks, ids=ids) if envs is None or t.env in envs]
    else:
        if not args.env:
            raise SystemExit("mcpfactory rollout: give --env ENV|all or --tasks FILE")
        envs = runnable_envs(root) if args.env == "all" else args.env.split(",")
        tasks = [t for env in envs for t in catalog_tasks(env, root) if ids is None or t.id in ids]
    if not args.allow_unverified:
        from mcpfactory.runtime import usability_problem

        problems = sorted({p for env in {e for t in tasks for e in t.envs} if (p := usability_problem(env, root))})
        if problems:
            raise SystemExit(
                "mcpfactory rollout: only verified environments run (or pass --allow-unverified):\n  "
                + "\n  ".join(problems)
            )
    return tasks


def _policy(args: argparse.Namespace) -> Any:
    from harness.policies import PolicySpec

    if args.policy == "litellm":
        if not args.model:
            raise SystemExit("mcpfactory rollout: --policy litellm needs --model")
        options: dict[str, Any] = {"model": args.model, "timeout": args.model_timeout}
        for name in ("api_base", "api_key", "temperature", "max_tokens"):
            if getattr(args, name) is not None:
                options[name] = getattr(args, name)
        options["logprobs"] = args.logprobs
        options["return_token_ids"] = args.return_token_ids
        return PolicySpec("litellm", options)
    if args.policy == "replay":
        if not args.replay:
            raise SystemExit("mcpfactory rollout: --policy replay needs --replay RECORDS")
        return PolicySpec("replay", {"records": args.replay})
    from harness.policies.trivial import TRIVIAL_KINDS

    known = {"oracle", "random", *(f"trivial-{kind}" for kind in TRIVIAL_KINDS)}
    if args.policy not in known:
        raise SystemExit(f"mcpfactory rollout: unknown policy {args.policy!r} ({', '.join(sorted(known))})")
    return PolicySpec(args.policy)


def _cmd_rollout(args: argparse.Namespace) -> int:
    import anyio

    from harness.descriptions import load_tool_descriptions
    from harness.episode import EpisodeConfig
    from harness.errors import HarnessError
    from harness.faults import FaultConfig
    from harness.llm import LLMConfig
    from harness.report import build_report, render_text
    from harness.reward import RewardConfig
    from harness.runner import RunConfig, Runner
    from harness.user import LiteLLMUser, ScriptedUser, UserSimulator

    tasks = _tasks(args)
    if not tasks:
        print("mcpfactory rollout: no tasks matched", file=sys.stderr)
        return 1
    spec = _policy(args)
    episode = EpisodeConfig(
        max_turns=args.max_turns,
        model_timeout=args.model_timeout,
        tool_timeout=args.tool_timeout,
        episode_timeout=args.episode_timeout,
        reward=RewardConfig(
            rule=args.reward,
            extra_call_penalty=args.extra_call_penalty,
            malformed_call_penalty=args.malformed_call_penalty,
        ),
        faults=FaultConfig(
            transient_error_rate=args.fault_transient,
            latency_rate=args.fault_latency,
            latency_s=args.fault_latency_s,
            drop_rate=args.fault_drop,
        ),
        check_invariants=args.check_invariants,
        system_prompt=args.system_prompt,
        tool_descriptions=load_tool_descriptions(args.tool_descriptions) if args.tool_descriptions else {},
    )
    config = RunConfig(
        samples=args.samples,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        seed=args.seed,
        transport=args.transport,
        pool_size=args.pool_size,
        url=args.url,
        control_secret=args.control_secret,
        episode=episode,
        backend=args.backend,
        ray_address=args.ray_address,
        progress=sys.stderr.isatty() if args.progress is None else args.progress,
        resume=args.resume,
    )
    envs = sorted({t.env for t in tasks})
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{'+'.join(envs)}-{spec.name}-{stamp}"
    user: UserSimulator | None = None
    if args.user_model:
        user = LiteLLMUser(
            LLMConfig(
                model=args.user_model,
                api_base=args.user_api_base,
                api_key=args.user_api_key,
                timeout=args.model_timeout,
            )
        )
    elif args.user == "scripted":
        user = ScriptedUser()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.ExitStack() as stack:
            # Server processes log to a file in the run folder, not over the progress bar.
            log = stack.enter_context((out / "servers.log").open("a")) if args.transport != "memory" else None
            catalog = Path(args.catalog).resolve() if args.catalog else None
            runner = Runner(spec, config, out=out, user=user, errlog=log, keep_records=False, catalog=catalog)
            summary = anyio.run(runner.run, tasks)
    except HarnessError as exc:
        print(f"mcpfactory rollout: {exc}", file=sys.stderr)
        return 1
    print(
        f"{summary.episodes} episode(s) run, {summary.skipped} already recorded, {summary.retried} retried; "
        f"records in {out}"
    )
    print(render_text(build_report(out)))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import json

    from harness.report import build_report, compare_reports, render_compare, render_text, write_plots

    report = build_report(args.run)
    if not report["overall"]["episodes"]:
        print(f"mcpfactory report: no records in {args.run}", file=sys.stderr)
        return 1
    other = build_report(args.compare) if args.compare else None
    plots: list[str] = []
    if not args.no_plots:
        folder = Path(args.plots) if args.plots else _run_folder(args.run) / "plots"
        plots = [str(p) for p in write_plots(args.run, folder, compare=args.compare)]
    if args.json:
        payload: dict[str, Any] = {"report": report, "plots": plots}
        if other is not None:
            payload["compare"] = compare_reports(report, other)
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    print(render_text(report))
    if other is not None:
        print()
        print(render_compare(compare_reports(report, other)))
    for path in plots:
        print(f"plot: {path}")
    return 0


def _run_folder(path: str) -> Path:
    folder = Path(path)
    return folder if folder.is_dir() else folder.parent


def _cmd_export(args: argparse.Namespace) -> int:
    from harness.errors import HarnessError
    from harness.export import export_hf_dataset, export_sft, export_token_rollouts

    try:
        if args.format == "sft":
            report = export_sft(
                args.run,
                args.out,
                min_reward=1.0 if args.min_reward is None else args.min_reward,
                include_faults=args.include_faults,
                keep_malformed=args.keep_malformed,
            )
        elif args.format == "tokens":
            report = export_token_rollouts(
                args.run,
                args.out,
                min_reward=args.min_reward,
                include_faults=args.include_faults,
                advantage=args.advantage,
            )
        else:
            report = export_hf_dataset(
                args.run, args.out, min_reward=args.min_reward, include_faults=args.include_faults
            )
    except HarnessError as exc:
        print(f"mcpfactory export: {exc}", file=sys.stderr)
        return 1
    print(f"{report.summary()} to {args.out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from mcpfactory.runtime import MCPFactoryError, catalog_tasks, usability_problem

    envs = tuple(name.strip() for name in args.env.split(",") if name.strip())
    root = Path(args.catalog).resolve() if args.catalog else None
    try:
        empty = [env for env in envs if not catalog_tasks(env, root)]
    except MCPFactoryError as exc:
        print(f"mcpfactory train: {exc}", file=sys.stderr)
        return 1
    if empty:
        print(f"mcpfactory train: no tasks for {', '.join(empty)}", file=sys.stderr)
        return 1
    if not args.allow_unverified:
        problems = [p for env in envs if (p := usability_problem(env, root))]
        if problems:
            print("mcpfactory train: only verified environments train (or pass --allow-unverified):", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            return 1
    try:
        from harness.adapters.trl import TrainConfig, train
    except ModuleNotFoundError as exc:
        print(
            f"mcpfactory train: needs the trl extra ({exc.name} is missing): pip install 'mcpfactory[trl]'",
            file=sys.stderr,
        )
        return 1
    from harness.env import EpisodeConfig
    from harness.reward import RewardConfig

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"train-{'+'.join(envs)}-{stamp}"
    config = TrainConfig(
        model=args.model,
        envs=envs,
        out=out,
        task_ids=tuple(args.task_ids.split(",")) if args.task_ids else None,
        catalog=root,
        num_generations=args.num_generations,
        steps=args.steps,
        learning_rate=args.learning_rate,
        max_turns=args.max_turns,
        max_completion_length=args.max_completion_length,
        temperature=args.temperature,
        generation=args.generation,
        vllm_mode=args.vllm_mode,
        batch_size=args.batch_size,
        seed=args.seed,
        use_cpu=args.cpu,
        episode=EpisodeConfig(reward=RewardConfig(rule=args.reward)),
    )
    try:
        result = train(config, say=lambda line: print(line, flush=True))
    except OSError as exc:  # transformers' answer to a model it cannot find or read
        print(f"mcpfactory train: cannot load the model {args.model!r}: {exc}", file=sys.stderr)
        return 1
    print(f"{len(result.steps)} step(s), {result.episodes} rollout(s); model, records and train_log.jsonl in {out}")
    return 0


def run_demo_rollouts(
    say: Callable[[str], None], *, samples: int = 2, catalog: Path | None = None, verified_only: bool = True
) -> int:
    """Run the oracle, the trivial agents and the random policy over the catalog in memory; print the results.

    Meant for `mcpfactory demo`; returns 1 if the oracle misses any task (an environment or task bug).
    """
    import anyio

    from harness.policies import TRIVIAL_KINDS, OraclePolicy, Policy, RandomPolicy, TrivialPolicy
    from harness.report import build_report_from_records, render_text
    from harness.runner import RunConfig, Runner
    from mcpfactory.runtime import catalog_tasks, runnable_envs, usability_problem

    envs = runnable_envs(catalog)
    if verified_only:
        for problem in filter(None, (usability_problem(env, catalog) for env in envs)):
            say(f"skipped {problem}")
        envs = [env for env in envs if usability_problem(env, catalog) is None]
    tasks = [task for env in envs for task in catalog_tasks(env, catalog)]
    if not tasks:
        say("no environment has both a compiled server and tasks")
        return 0
    status = 0
    summary = anyio.run(Runner(OraclePolicy(), RunConfig(samples=samples), catalog=catalog).run, tasks)
    say("== oracle policy (the reference: it must score 1.0) ==")
    say(render_text(build_report_from_records(summary.records)))
    if summary.success_rate != 1.0:
        status = 1
    say("")
    say("== agents that do not do the task (no task may reward them) ==")
    say(f"{'agent':<22} {'success':>8} {'refusals':>9} {'others':>8} {'reward':>7}")
    floor: list[Policy] = [*(TrivialPolicy(kind) for kind in TRIVIAL_KINDS), RandomPolicy()]
    for policy in floor:
        overall = build_report_from_records(anyio.run(Runner(policy, catalog=catalog).run, tasks).records)["overall"]
        say(
            f"{policy.name:<22} {_pct(overall['success_all']):>8} {_pct(overall['success_refusal']):>9} "
            f"{_pct(overall['success_other']):>8} {overall['mean_reward'] or 0.0:>7.3f}"
        )
    return status


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
