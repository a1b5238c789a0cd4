"""Exporters: a run's records in the shapes trainers consume.

- `export_sft`: chat JSONL, one `{"messages", "tools", ...}` object per kept
  episode (OpenAI format; what TRL's `SFTTrainer` takes for tool use).
- `export_token_rollouts`: token-level rollouts, one object per episode with
  `prompt_ids`, `prompt_mask`, `completion_ids`, `completion_mask`,
  `completion_logprobs`, `reward` and a group-relative `advantage`: the shape
  of verifiers' processed outputs, which TRL's GRPO trainer also builds. The
  completion interleaves the model's tokens (mask 1) with the tokens the
  environment added between turns (mask 0), recovered from the next turn's
  prompt ids; it needs the model server's token ids (vLLM `return_token_ids`)
  and a chat template that only appends.
- `export_hf_dataset`: a Hugging Face `datasets.Dataset` saved to disk, one row
  per episode, nested fields as JSON strings (their shapes vary by episode).
"""

from __future__ import annotations

import importlib
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.records import latest_records, read_records, records_path

__all__ = ["export_hf_dataset", "export_sft", "export_token_rollouts", "token_rollout"]


def _kept(run: Path | str, min_reward: float | None) -> list[dict[str, Any]]:
    return [
        record
        for record in latest_records(read_records(run))
        if not record.get("fault") and (min_reward is None or float(record["reward"]) >= min_reward)
    ]


def _tools(run: Path | str) -> dict[str, list[dict[str, Any]]]:
    folder = records_path(run).parent / "tools"
    tools: dict[str, list[dict[str, Any]]] = {}
    if folder.is_dir():
        for path in folder.glob("*.json"):
            tools[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return tools


def _write_jsonl(path: Path | str, rows: Iterator[dict[str, Any]]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def export_sft(run: Path | str, out: Path | str, *, min_reward: float | None = 1.0) -> int:
    """Write successful episodes (reward >= `min_reward`) as chat JSONL; return how many."""
    tools = _tools(run)

    def rows() -> Iterator[dict[str, Any]]:
        for record in _kept(run, min_reward):
            yield {
                "messages": record["messages"],
                "tools": record.get("tools") or tools.get(str(record["env"]), []),
                "reward": record["reward"],
                "env": record["env"],
                "task": record["task"],
                "episode_id": record["episode_id"],
            }

    return _write_jsonl(out, rows())


def token_rollout(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """Assemble one episode's token rollout, or None if a model call lacks token ids or the prompts do not chain."""
    calls = [c for c in record.get("model_calls") or [] if c.get("tokens")]
    if not calls or len(calls) != len(record.get("model_calls") or []):
        return None
    tokens = [c["tokens"] for c in calls]
    if any(t.get("prompt_ids") is None or t.get("completion_ids") is None for t in tokens):
        return None
    prompt = list(tokens[0]["prompt_ids"])
    completion: list[int] = []
    mask: list[int] = []
    logprobs: list[float] = []
    context = list(prompt)
    for index, turn in enumerate(tokens):
        if index > 0:
            following = list(turn["prompt_ids"])
            if following[: len(context)] != context:
                return None  # the template rewrote earlier turns; the rollout is not one sequence
            added = following[len(context) :]
            completion += added
            mask += [0] * len(added)
            logprobs += [0.0] * len(added)
            context = following
        ids = list(turn["completion_ids"])
        turn_logprobs = turn.get("completion_logprobs") or [0.0] * len(ids)
        if len(turn_logprobs) != len(ids):
            turn_logprobs = [0.0] * len(ids)
        completion += ids
        mask += [1] * len(ids)
        logprobs += [float(x) for x in turn_logprobs]
        context += ids
    return {
        "episode_id": record["episode_id"],
        "env": record["env"],
        "task": record["task"],
        "prompt_ids": prompt,
        "prompt_mask": [1] * len(prompt),
        "completion_ids": completion,
        "completion_mask": mask,
        "completion_logprobs": logprobs,
        "reward": float(record["reward"]),
    }


def _with_advantages(rollouts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for rollout in rollouts:
        groups[(rollout["env"], rollout["task"])].append(rollout["reward"])
    out = []
    for rollout in rollouts:
        rewards = groups[(rollout["env"], rollout["task"])]
        out.append({**rollout, "advantage": rollout["reward"] - sum(rewards) / len(rewards)})
    return out


def export_token_rollouts(run: Path | str, out: Path | str, *, min_reward: float | None = None) -> int:
    """Write token-level rollouts of every episode with token data; return how many."""
    rollouts = [r for r in (token_rollout(rec) for rec in _kept(run, min_reward)) if r is not None]
    return _write_jsonl(out, iter(_with_advantages(rollouts)))


def export_hf_dataset(run: Path | str, out: Path | str, *, min_reward: float | None = None) -> int:
    """Save the episodes as a Hugging Face dataset folder (`datasets.load_from_disk`); return the row count."""
    try:
        datasets: Any = importlib.import_module("datasets")  # optional dependency, untyped
    except ModuleNotFoundError:
        raise HarnessError("the hf export needs the `datasets` package: pip install datasets") from None
    tools = _tools(run)
    rows = [
        {
            "episode_id": r["episode_id"],
            "env": r["env"],
            "task": r["task"],
            "sample": int(r.get("sample", 0)),
            "reward": float(r["reward"]),
            "success": bool(r.get("success")),
            "termination": r["termination"],
            "turns": int(r.get("turns", 0)),
            "num_calls": int(r.get("num_calls", 0)),
            "messages": json.dumps(r["messages"], ensure_ascii=False),
            "tools": json.dumps(tools.get(str(r["env"]), []), ensure_ascii=False),
            "reward_components": json.dumps(r.get("reward_components"), ensure_ascii=False),
        }
        for r in _kept(run, min_reward)
    ]
    dataset = datasets.Dataset.from_list(rows)
    dataset.save_to_disk(str(out))
    return len(rows)
