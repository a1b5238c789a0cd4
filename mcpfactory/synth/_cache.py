"""Record and replay model replies on disk, keyed by a hash of the full request.

An entry is one JSON file, `<dir>/<key[:2]>/<key>.json`, holding the request
(for a person reading the cache) and what the reply gave. The key covers what
decides the reply (model, messages, response format, sampling parameters) and
leaves out where the request went (`api_base`) and credentials, so a run
recorded against one server replays against none.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

__all__ = ["CacheMode", "ResponseCache", "request_key"]

CacheMode = Literal["off", "record", "replay"]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(request: Mapping[str, Any]) -> str:
    """The SHA-256 of a request as canonical JSON."""
    return hashlib.sha256(_canonical(request).encode("utf-8")).hexdigest()


class ResponseCache:
    """A folder of recorded replies.

    `record` serves hits and stores misses; `replay` serves hits and lets the
    caller raise on a miss, so nothing reaches the network; `off` does neither.
    """

    def __init__(self, directory: Path, mode: CacheMode = "record") -> None:
        self.directory = directory
        self.mode = mode

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored reply for `key`, or `None`."""
        if self.mode == "off":
            return None
        path = self._path(key)
        if not path.exists():
            return None
        entry = json.loads(path.read_text(encoding="utf-8"))
        reply = entry.get("reply")
        return reply if isinstance(reply, dict) else None

    def put(self, key: str, request: Mapping[str, Any], reply: Mapping[str, Any]) -> None:
        """Store a reply atomically (a reader never sees half a file)."""
        if self.mode != "record":
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"key": key, "request": request, "reply": reply}, indent=1, ensure_ascii=False)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
