"""Reports over a run's records: success, pass@k and pass^k, turns, calls, errors, terminations; plots; comparisons.

Faults that are not the agent's doing (`timeout`, `model_error`,
`env_fault`, `infra_error`) are counted apart and excluded from the success
and reward figures; `success_all` counts them as failures, so a model that
never answers cannot look good. Success is also split between refusal tasks
(where doing nothing can be right) and the others, so a policy that refuses
everything shows for what it is. pass@k is the unbiased estimator of Chen et al. (2021),
`1 - C(n-c, k) / C(n, k)`; pass^k is tau-bench's, `C(c, k) / C(n, k)`: the
chance that k samples of a task all succeed. Both are averaged over tasks,
for k up to the fewest agent episodes any task has.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from math import comb
from pathlib import Path
from typing import Any

from harness.records import latest_records, read_records

__all__ = [
    "build_report",
    "build_report_from_records",
    "compare_reports",
    "pass_at_k",
    "pass_hat_k",
    "render_compare",
    "render_text",
    "write_plots",
]

_FAULTS = ("timeout", "model_error", "env_fault", "infra_error", "task_error")


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k samples (of n, c correct) succeeds."""
    if k > n:
        raise ValueError(f"k={k} exceeds n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """The chance that all of k samples (of n, c correct) succeed (tau-bench's pass^k)."""
    if k > n:
        raise ValueError(f"k={k} exceeds n={n}")
    return comb(c, k) / comb(n, k)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _stats(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    agent = [r for r in records if not r.get("fault")]
    terminations = Counter(str(r["termination"]) for r in records)
    calls = sum(int(r.get("num_calls", 0)) for r in agent)
    per_task: dict[str, list[bool]] = defaultdict(list)
    for record in agent:
        per_task[f"{record['env']}/{record['task']}"].append(bool(record.get("success")))
    ks: dict[str, dict[str, float]] = {"pass@k": {}, "pass^k": {}}
    if per_task:
        smallest = min(len(v) for v in per_task.values())
        for k in range(1, smallest + 1):
            ks["pass@k"][str(k)] = _mean([pass_at_k(len(v), sum(v), k) for v in per_task.values()]) or 0.0
            ks["pass^k"][str(k)] = _mean([pass_hat_k(len(v), sum(v), k) for v in per_task.values()]) or 0.0
    refusals = [r for r in agent if _refusal(r)]
    others = [r for r in agent if not _refusal(r)]
    return {
        "episodes": len(records),
        "agent_episodes": len(agent),
        "tasks": len({(r["env"], r["task"]) for r in records}),
        "success_rate": _mean([1.0 if r.get("success") else 0.0 for r in agent]),
        "success_all": _mean([1.0 if r.get("success") else 0.0 for r in records]),
        "success_refusal": _mean([1.0 if r.get("success") else 0.0 for r in refusals]),
        "success_other": _mean([1.0 if r.get("success") else 0.0 for r in others]),
        "refusal_episodes": len(refusals),
        "mean_reward": _mean([float(r["reward"]) for r in agent]),
        "pass@k": ks["pass@k"],
        "pass^k": ks["pass^k"],
        "mean_turns": _mean([float(r.get("turns", 0)) for r in agent]),
        "mean_calls": _mean([float(r.get("num_calls", 0)) for r in agent]),
        "tool_error_rate": sum(int(r.get("num_tool_errors", 0)) for r in agent) / calls if calls else None,
        "malformed_call_rate": sum(int(r.get("num_malformed_calls", 0)) for r in agent) / calls if calls else None,
        "injected_faults": sum(int(r.get("num_injected_faults", 0)) for r in records),
        "terminations": dict(sorted(terminations.items())),
        "faults": {kind: terminations.get(kind, 0) for kind in _FAULTS},
        "fault_rate": sum(terminations.get(kind, 0) for kind in _FAULTS) / len(records) if records else None,
        "infra_retries": sum(len(r.get("infra_failures") or []) for r in records),
    }


def _refusal(record: Mapping[str, Any]) -> bool:
    return bool(record.get("refusal")) or "refusal" in (record.get("tags") or [])


def build_report_from_records(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Summarise records overall, per environment and per task (the last record of each episode counts)."""
    latest = latest_records(records)
    by_env: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in latest:
        by_env[str(record["env"])].append(record)
        by_task[f"{record['env']}/{record['task']}"].append(record)
    policies = sorted({f"{r.get('policy', {}).get('name')}:{r.get('policy', {}).get('model')}" for r in latest})
    return {
        "policies": policies,
        "overall": _stats(latest),
        "envs": {env: _stats(items) for env, items in sorted(by_env.items())},
        "tasks": {task: _stats(items) for task, items in sorted(by_task.items())},
    }


def build_report(run: Path | str) -> dict[str, Any]:
    """Summarise a run folder (or records file)."""
    return build_report_from_records(read_records(run))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _row(name: str, stats: Mapping[str, Any]) -> str:
    k = stats["pass^k"]
    top = max(k, key=int) if k else None
    hat = f"{_pct(k[top])} (k={top})" if top else "-"
    return (
        f"{name:<28} {stats['episodes']:>6} {_pct(stats['success_rate']):>8} {_pct(stats['success_refusal']):>8} "
        f"{_pct(stats['success_other']):>8} {_num(stats['mean_reward']):>7} "
        f"{hat:>14} {_num(stats['mean_turns'], 1):>6} {_num(stats['mean_calls'], 1):>6} "
        f"{_pct(stats['tool_error_rate']):>8} {sum(stats['faults'].values()):>6}"
    )


def render_text(report: Mapping[str, Any], *, max_tasks: int = 40) -> str:
    """Render a report as a plain-text table (environments, then the tasks, worst first)."""
    overall = report["overall"]
    header = (
        f"{'':<28} {'eps':>6} {'success':>8} {'refusals':>8} {'others':>8} {'reward':>7} {'pass^k':>14} "
        f"{'turns':>6} {'calls':>6} {'tool err':>8} {'faults':>6}"
    )
    lines = [f"policy: {', '.join(report['policies'])}", header, _row("all", overall)]
    lines += [_row(f"  {env}", stats) for env, stats in report["envs"].items()]
    pass_at = ", ".join(f"@{k} {_pct(v)}" for k, v in overall["pass@k"].items())
    pass_hat = ", ".join(f"^{k} {_pct(v)}" for k, v in overall["pass^k"].items())
    lines.append(f"pass@k: {pass_at or '-'}   pass^k: {pass_hat or '-'}")
    lines.append("terminations: " + ", ".join(f"{k} {v}" for k, v in overall["terminations"].items()))
    faults = overall["faults"]
    lines.append(
        "faults (excluded from success): "
        + ", ".join(f"{kind} {count}" for kind, count in faults.items())
        + f"; success counting faults as failures {_pct(overall['success_all'])}; "
        f"infra retries {overall['infra_retries']}; injected faults {overall['injected_faults']}"
    )
    tasks = sorted(report["tasks"].items(), key=lambda item: (item[1]["success_rate"] or 0.0, item[0]))
    if tasks:
        lines.append("")
        lines.append(f"tasks (worst first{', first ' + str(max_tasks) if len(tasks) > max_tasks else ''}):")
        lines += [_row(f"  {name}", stats) for name, stats in tasks[:max_tasks]]
    return "\n".join(lines)


def compare_reports(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Compare run `a` with run `b`: deltas overall and per environment, and tasks whose success rate moved."""

    def delta(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else x - y

    def side(stats: Mapping[str, Any] | None) -> dict[str, Any]:
        if stats is None:
            return {"success_rate": None, "mean_reward": None, "episodes": 0}
        return {k: stats[k] for k in ("success_rate", "mean_reward", "episodes")}

    envs = {}
    for env in sorted(set(a["envs"]) | set(b["envs"])):
        left, right = side(a["envs"].get(env)), side(b["envs"].get(env))
        envs[env] = {
            "a": left,
            "b": right,
            "success_delta": delta(left["success_rate"], right["success_rate"]),
            "reward_delta": delta(left["mean_reward"], right["mean_reward"]),
        }
    moved = []
    for task in sorted(set(a["tasks"]) & set(b["tasks"])):
        x, y = a["tasks"][task]["success_rate"], b["tasks"][task]["success_rate"]
        if x != y:
            moved.append({"task": task, "a": x, "b": y})
    overall_a, overall_b = side(a["overall"]), side(b["overall"])
    return {
        "overall": {
            "a": overall_a,
            "b": overall_b,
            "success_delta": delta(overall_a["success_rate"], overall_b["success_rate"]),
            "reward_delta": delta(overall_a["mean_reward"], overall_b["mean_reward"]),
        },
        "envs": envs,
        "tasks_moved": moved,
        "only_in_a": sorted(set(a["tasks"]) - set(b["tasks"])),
        "only_in_b": sorted(set(b["tasks"]) - set(a["tasks"])),
    }


def render_compare(comparison: Mapping[str, Any]) -> str:
    """Render a comparison as text: run A against run B."""

    def signed(value: float | None) -> str:
        return "-" if value is None else f"{value:+.1%}"

    lines = [f"{'compare (A vs B)':<28} {'A success':>10} {'B success':>10} {'delta':>8} {'reward delta':>13}"]
    rows = [("all", comparison["overall"])] + [(f"  {env}", v) for env, v in comparison["envs"].items()]
    for name, row in rows:
        lines.append(
            f"{name:<28} {_pct(row['a']['success_rate']):>10} {_pct(row['b']['success_rate']):>10} "
            f"{signed(row['success_delta']):>8} {signed(row['reward_delta']):>13}"
        )
    if comparison["tasks_moved"]:
        lines.append("tasks whose success rate moved:")
        lines += [f"  {m['task']}: {_pct(m['b'])} -> {_pct(m['a'])}" for m in comparison["tasks_moved"]]
    return "\n".join(lines)


def write_plots(run: Path | str, folder: Path | str, *, compare: Path | str | None = None) -> list[Path]:
    """Write PNG plots: reward distribution per environment and pass^k curves (both runs with `compare`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs = [(Path(run).name or "run", latest_records(read_records(run)))]
    if compare is not None:
        runs.append((Path(compare).name or "other", latest_records(read_records(compare))))
    written = []

    envs = sorted({str(r["env"]) for _, records in runs for r in records})
    figure, axes = plt.subplots(1, max(1, len(envs)), figsize=(4 * max(1, len(envs)), 3.2), squeeze=False)
    for axis, env in zip(axes[0], envs, strict=False):
        for name, records in runs:
            rewards = [float(r["reward"]) for r in records if r["env"] == env and not r.get("fault")]
            axis.hist(rewards, bins=10, range=(0.0, 1.0), alpha=0.6, label=name)
        axis.set_title(env)
        axis.set_xlabel("reward")
        axis.set_ylabel("episodes")
    axes[0][0].legend(fontsize="small")
    figure.tight_layout()
    path = folder / "reward_distribution.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    written.append(path)

    figure, axis = plt.subplots(figsize=(5, 3.5))
    for name, records in runs:
        report = build_report_from_records(records)
        for env, stats in report["envs"].items():
            curve = stats["pass^k"]
            if curve:
                ks = [int(k) for k in curve]
                axis.plot(ks, [curve[str(k)] for k in ks], marker="o", label=f"{name}: {env}")
    axis.set_xlabel("k")
    axis.set_ylabel("pass^k")
    axis.set_ylim(0, 1.05)
    axis.legend(fontsize="small")
    figure.tight_layout()
    path = folder / "pass_hat_k.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    written.append(path)
    return written
