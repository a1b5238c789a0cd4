"""Episode records: one JSON object per episode, streamed to `records.jsonl` and read back.

Every record carries at least `task`, `env`, `reward` (a float) and
`termination`; the full list of fields is in docs/harness.md. The writer
flushes and fsyncs each line, so a crash of the runner loses at most the
episodes in flight; a torn last line (the crash hit mid-write) is dropped when
the file is read or appended to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from harness.errors import RecordFileError

__all__ = [
    "RECORDS_FILE",
    "RecordWriter",
    "episode_id",
    "finished_episodes",
    "latest_records",
    "read_records",
    "records_path",
]

RECORDS_FILE = "records.jsonl"


def episode_id(env: str, task: str, sample: int) -> str:
    """The identity of an episode within a run: `env/task#sample`."""
    return f"{env}/{task}#{sample}"


def records_path(path: Path | str) -> Path:
    """Accept a run folder or a records file; return the records file."""
    path = Path(path)
    return path / RECORDS_FILE if path.is_dir() or not path.suffix else path


def _lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """Yield `(number, text, complete)`; only the last line can be incomplete (no newline)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            yield number, raw.decode("utf-8", errors="replace"), raw.endswith(b"\n")


def read_records(path: Path | str) -> list[dict[str, Any]]:
    """Read every record of a run; a torn last line is skipped, any other bad line raises `RecordFileError`."""
    file = records_path(path)
    if not file.exists():
        return []
    records = []
    for number, text, complete in _lines(file):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            if not complete:
                break  # the runner died mid-write; the episode will be run again on --resume
            raise RecordFileError(file, number, f"not JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise RecordFileError(file, number, "a record is a JSON object")
        records.append(record)
    return records


def latest_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Keep the last record of each episode (a resumed run may re-run an episode that failed on infrastructure)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        key = str(record.get("episode_id") or episode_id(record["env"], record["task"], record.get("sample", 0)))
        latest.pop(key, None)
        latest[key] = dict(record)
    return list(latest.values())


def finished_episodes(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """Episodes that `--resume` skips: those whose last record is not an infrastructure failure."""
    return {
        str(record["episode_id"])
        for record in latest_records(records)
        if record.get("termination") != "infra_error" and record.get("episode_id")
    }


class RecordWriter:
    """Append records to a JSONL file, one fsync'd line each; use as a context manager."""

    def __init__(self, path: Path | str, *, fsync: bool = True) -> None:
        self.path = records_path(path)
        self.fsync = fsync
        self._handle: IO[bytes] | None = None
        self.written = 0

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._truncate_torn_tail()
        self._handle = self.path.open("ab")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _truncate_torn_tail(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as handle:
            data = handle.read()
            if data.endswith(b"\n"):
                return
            handle.truncate(data.rfind(b"\n") + 1)

    def write(self, record: Mapping[str, Any]) -> None:
        """Write one record and make it durable before returning."""
        assert self._handle is not None, "use RecordWriter as a context manager"
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._handle.write(line.encode("utf-8"))
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())
        self.written += 1
