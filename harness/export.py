"""Exporters: a run's records in the shapes trainers read as they are.

Every exporter keeps the last record of each episode and, by default, leaves
out what a trainer must not learn from, counting each reason in the returned
`ExportReport` (the CLI prints it): faults (`fault:<termination>`: the
environment or the infrastructure failed, not the model) and episodes with no
assistant turn (`no_assistant_turn`), unless `include_faults`; episodes under
`min_reward` (`below_min_reward`). Every row carries the tools the episode
offered (from its record; `no_tools` when a record predates that field and
the run holds no other source).

- `export_sft`: chat JSONL, one `{"messages", "tools", ...}` row per episode,
  tool-call arguments as objects (chat templates write them with `tojson`; a
  JSON string would come out encoded twice). Episodes with malformed calls
  are left out too (`malformed_calls`) unless `keep_malformed`.
- `export_token_rollouts`: token rows for RL, one per episode: `prompt_ids`,
  `completion_ids` (the model's tokens, mask 1, interleaved with the tokens
  the environment added between turns, mask 0, recovered from the next
  turn's prompt ids), `completion_logprobs`, the turns' spans in the
  completion (`turn_boundaries`), their `finish_reasons`, `truncated`, the
  GRPO group (`group_id`, `sample`, `seed`), `reward` and `advantage`. The
  advantage is taken over the whole group, every scored episode of the task
  (kept or not), minus its mean (`mean`) or also over its standard deviation
  (`mean_std`); `group_size` and `group_faults` say what it stood on. When a
  turn's prompt does not extend the previous turn's (a template that drops
  `<think>` blocks or rewrites history), the episode is split there into
  `segments` rows, each a consistent sequence with the same reward and
  advantage (`split:prompt_not_extended` in the report).
- `export_hf_dataset`: a Hugging Face dataset folder (`datasets.load_from_disk`)
  with nested columns: `messages` and `tools` load back as lists of dicts
  (arguments and parameter schemas as JSON objects, `datasets.Json`), which
  TRL's `SFTTrainer` reads as a conversational dataset with tools.
"""

from __future__ import annotations

import importlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.errors import HarnessError
from harness.gym import decoded_messages
from harness.records import latest_records, read_records, records_path

__all__ = [
    "ExportReport",
    "export_hf_dataset",
    "export_sft",
    "export_token_rollouts",
    "select_records",
    "token_rollouts",
]

Advantage = Literal["mean", "mean_std", "none"]


@dataclass
class ExportReport:
    """What an export wrote and what it left out, by reason."""

    written: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line: rows written, and each reason for leaving episodes out, most frequent first."""
        text = f"wrote {self.written} row(s)"
        if self.dropped:
            reasons = ", ".join(f"{reason} {count}" for reason, count in self.dropped.most_common())
            text += f"; left out {sum(self.dropped.values())} episode(s): {reasons}"
        if self.notes:
            text += "; " + ", ".join(f"{note} {count}" for note, count in self.notes.most_common())
        return text

    def to_json(self) -> dict[str, Any]:
        return {"written": self.written, "dropped": dict(self.dropped), "notes": dict(self.notes)}


def _tool_sources(run: Path | str, records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, Any], list[Any]]:
    """Tools per (env, spec hash) from the run's own records, then from an older run's `tools/<env>.json`."""
    sources: dict[tuple[str, Any], list[Any]] = {}
    for record in records:
        if record.get("tools"):
            sources.setdefault((str(record["env"]), record.get("spec_sha256")), list(record["tools"]))
    folder = records_path(run).parent / "tools"
    if folder.is_dir():
        for path in folder.glob("*.json"):
            sources.setdefault((path.stem, None), json.loads(path.read_text(encoding="utf-8")))
    return sources


def _tools_of(record: Mapping[str, Any], sources: Mapping[tuple[str, Any], list[Any]]) -> list[Any] | None:
    if record.get("tools"):
        return list(record["tools"])
    env = str(record["env"])
    return sources.get((env, record.get("spec_sha256"))) or sources.get((env, None))


def _has_assistant_turn(record: Mapping[str, Any]) -> bool:
    return any(message.get("role") == "assistant" for message in record.get("messages") or [])


def select_records(
    run: Path | str,
    *,
    min_reward: float | None = None,
    include_faults: bool = False,
    keep_malformed: bool = True,
    report: ExportReport | None = None,
) -> list[dict[str, Any]]:
    """The run's episodes an export keeps, each with its `tools`; every episode left out is counted in `report`."""
    report = report if report is not None else ExportReport()
    records = latest_records(read_records(run))
    sources = _tool_sources(run, records)
    kept = []
    for record in records:
        if record.get("fault") and not include_faults:
            report.dropped[f"fault:{record.get('termination')}"] += 1
        elif not _has_assistant_turn(record) and not include_faults:
            report.dropped["no_assistant_turn"] += 1
        elif min_reward is not None and float(record.get("reward") or 0.0) < min_reward:
            report.dropped["below_min_reward"] += 1
        elif not keep_malformed and int(record.get("num_malformed_calls") or 0) > 0:
            report.dropped["malformed_calls"] += 1
        elif (tools := _tools_of(record, sources)) is None:
            report.dropped["no_tools"] += 1
        else:
            kept.append({**record, "tools": tools})
    return kept


def _group_id(record: Mapping[str, Any]) -> str:
    return f"{record['env']}/{record['task']}"


def _write_jsonl(path: Path | str, rows: Iterable[Mapping[str, Any]]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def _row_identity(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "episode_id": record["episode_id"],
        "group_id": _group_id(record),
        "env": record["env"],
        "task": record["task"],
        "sample": int(record.get("sample", 0)),
        "seed": record.get("seed"),
        "termination": record["termination"],
        "reward": float(record["reward"]),
    }


def export_sft(
    run: Path | str,
    out: Path | str,
    *,
    min_reward: float | None = 1.0,
    include_faults: bool = False,
    keep_malformed: bool = False,
) -> ExportReport:
    """Write the episodes with reward >= `min_reward` as chat JSONL with their tools; return the report."""
    report = ExportReport()
    kept = select_records(
        run, min_reward=min_reward, include_faults=include_faults, keep_malformed=keep_malformed, report=report
    )
    rows = (
        {
            "messages": decoded_messages(record["messages"]),
            "tools": record["tools"],
            **_row_identity(record),
            "sampler": record.get("sampler"),
        }
        for record in kept
    )
    report.written = _write_jsonl(out, rows)
    return report


# token rollouts ------------------------------------------------------------------


def _segments(record: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The episode's token sequences (one unless the template rewrote history), or None without token ids."""
    calls = list(record.get("model_calls") or [])
    if not calls:
        return None
    tokens = [call.get("tokens") or {} for call in calls]
    if any(t.get("prompt_ids") is None or t.get("completion_ids") is None for t in tokens):
        return None
    segments: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    context: list[int] = []
    for call, turn in zip(calls, tokens, strict=True):
        prompt = list(turn["prompt_ids"])
        if current is not None and prompt[: len(context)] == context:
            added = prompt[len(context) :]
            current["completion_ids"] += added
            current["completion_mask"] += [0] * len(added)
            current["completion_logprobs"] += [0.0] * len(added)
        else:
            current = {
                "prompt_ids": prompt,
                "completion_ids": [],
                "completion_mask": [],
                "completion_logprobs": [],
                "turn_boundaries": [],
                "finish_reasons": [],
            }
            segments.append(current)
        ids = list(turn["completion_ids"])
        logprobs = turn.get("completion_logprobs") or []
        if len(logprobs) != len(ids):
            logprobs = [0.0] * len(ids)
        start = len(current["completion_ids"])
        current["completion_ids"] += ids
        current["completion_mask"] += [1] * len(ids)
        current["completion_logprobs"] += [float(x) for x in logprobs]
        current["turn_boundaries"].append([start, start + len(ids)])
        current["finish_reasons"].append(call.get("finish_reason"))
        context = current["prompt_ids"] + current["completion_ids"]
    return segments


def _group_stats(records: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float, float, int, int]]:
    """Per group: mean and standard deviation of the scored rewards, how many were scored, how many faulted."""
    rewards: dict[str, list[float]] = defaultdict(list)
    faults: Counter[str] = Counter()
    for record in records:
        if record.get("fault"):
            faults[_group_id(record)] += 1
        else:
            rewards[_group_id(record)].append(float(record["reward"]))
    stats = {}
    for group in set(rewards) | set(faults):
        values = rewards.get(group, [])
        mean = sum(values) / len(values) if values else 0.0
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) if values else 0.0
        stats[group] = (mean, std, len(values), faults[group])
    return stats


def _advantage(reward: float, mean: float, std: float, how: Advantage) -> float:
    if how == "none":
        return 0.0
    centred = reward - mean
    if how == "mean_std":
        return centred / (std + 1e-6)  # as GRPO does: a group of equal rewards gets 0
    return centred


def token_rollouts(
    run: Path | str,
    *,
    min_reward: float | None = None,
    include_faults: bool = False,
    advantage: Advantage = "mean",
    report: ExportReport | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the token rows of the run's episodes (see the module's docstring)."""
    report = report if report is not None else ExportReport()
    stats = _group_stats(latest_records(read_records(run)))
    for record in select_records(run, min_reward=min_reward, include_faults=include_faults, report=report):
        segments = _segments(record)
        if segments is None:
            report.dropped["no_token_ids"] += 1
            continue
        if len(segments) > 1:
            report.notes["split:prompt_not_extended"] += 1
        mean, std, scored, faults = stats.get(_group_id(record), (0.0, 0.0, 0, 0))
        reward = float(record["reward"])
        finish = [r for segment in segments for r in segment["finish_reasons"]]
        truncated = record["termination"] == "truncated" or "length" in finish
        for index, segment in enumerate(segments):
            yield {
                **_row_identity(record),
                "segment": index,
                "segments": len(segments),
                "prompt_ids": segment["prompt_ids"],
                "prompt_mask": [1] * len(segment["prompt_ids"]),
                "completion_ids": segment["completion_ids"],
                "completion_mask": segment["completion_mask"],
                "completion_logprobs": segment["completion_logprobs"],
                "turn_boundaries": segment["turn_boundaries"],
                "finish_reasons": segment["finish_reasons"],
                "finish_reason": segment["finish_reasons"][-1] if segment["finish_reasons"] else None,
                "truncated": truncated,
                "advantage": 0.0 if record.get("fault") else _advantage(reward, mean, std, advantage),
                "advantage_normalisation": advantage,
                "group_size": scored,
                "group_faults": faults,
                "sampler": record.get("sampler"),
            }


def export_token_rollouts(
    run: Path | str,
    out: Path | str,
    *,
    min_reward: float | None = None,
    include_faults: bool = False,
    advantage: Advantage = "mean",
) -> ExportReport:
    """Write the token rows of every episode with token data; return the report."""
    report = ExportReport()
    rows = token_rollouts(run, min_reward=min_reward, include_faults=include_faults, advantage=advantage, report=report)
    report.written = _write_jsonl(out, rows)
    return report


# Hugging Face --------------------------------------------------------------------


def _hf_features(datasets: Any) -> Any:
    value, json_value = datasets.Value, datasets.Json
    call = {
        "id": value("string"),
        "type": value("string"),
        "function": {"name": value("string"), "arguments": json_value()},
    }
    message = {
        "role": value("string"),
        "content": value("string"),
        "tool_calls": datasets.List(call),
        "tool_call_id": value("string"),
    }
    tool = {
        "type": value("string"),
        "function": {"name": value("string"), "description": value("string"), "parameters": json_value()},
    }
    return datasets.Features(
        {
            "messages": datasets.List(message),
            "tools": datasets.List(tool),
            "episode_id": value("string"),
            "group_id": value("string"),
            "env": value("string"),
            "task": value("string"),
            "sample": value("int64"),
            "seed": value("int64"),
            "termination": value("string"),
            "reward": value("float64"),
            "success": value("bool"),
            "turns": value("int64"),
            "num_calls": value("int64"),
            "reward_components": json_value(),
            "sampler": json_value(),
        }
    )


def _hf_message(message: Mapping[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    return {
        "role": message.get("role"),
        "content": content if isinstance(content, str) or content is None else json.dumps(content),
        "tool_calls": [
            {
                "id": call.get("id"),
                "type": call.get("type", "function"),
                "function": {"name": call["function"].get("name"), "arguments": call["function"].get("arguments")},
            }
            for call in message.get("tool_calls") or []
        ]
        or None,
        "tool_call_id": message.get("tool_call_id"),
    }


def export_hf_dataset(
    run: Path | str, out: Path | str, *, min_reward: float | None = None, include_faults: bool = False
) -> ExportReport:
    """Save the episodes as a Hugging Face dataset folder with nested `messages` and `tools`; return the report."""
    try:
        datasets: Any = importlib.import_module("datasets")  # optional dependency, untyped
    except ModuleNotFoundError:
        raise HarnessError("the hf export needs the `datasets` package: pip install 'mcpfactory[harness]'") from None
    if not hasattr(datasets, "Json"):
        raise HarnessError(f"the hf export needs datasets >= 5 (nested JSON columns); found {datasets.__version__}")
    report = ExportReport()
    rows = [
        {
            "messages": [_hf_message(m) for m in decoded_messages(record["messages"])],
            "tools": record["tools"],
            **_row_identity(record),
            "success": bool(record.get("success")),
            "turns": int(record.get("turns", 0)),
            "num_calls": int(record.get("num_calls", 0)),
            "reward_components": record.get("reward_components"),
            "sampler": record.get("sampler"),
        }
        for record in select_records(run, min_reward=min_reward, include_faults=include_faults, report=report)
    ]
    dataset = datasets.Dataset.from_list(rows, features=_hf_features(datasets))
    dataset.save_to_disk(str(out))
    report.written = len(rows)
    return report
