"""Tool wording from elsewhere: what a model reads about each tool, replaced, its name and schema kept.

A benchmark's own harness may describe the same tools in other words (BFCL's
function docs, for the bfcl_* environments); the words change what a model
does, so a score comparable with that harness's needs that harness's words.
A descriptions file is JSON:

```json
{"cd": {"description": "Change the current directory ...", "parameters": {"folder": "The folder ..."}}}
```

Each listed tool gets its description and the listed parameters'
descriptions; a tool or parameter the file does not list keeps the server's.
Calls are still validated against the server's schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.connection import ToolSpec
from harness.errors import HarnessError

__all__ = ["ToolText", "describe", "descriptions_sha256", "load_tool_descriptions"]

MAX_FILE = 16 * 1024 * 1024  # bytes


@dataclass(frozen=True, slots=True)
class ToolText:
    """What a model reads about one tool: its description and its parameters' descriptions."""

    description: str
    parameters: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "parameters": dict(self.parameters)}


def describe(tool: ToolSpec, text: ToolText | None) -> ToolSpec:
    """Return `tool` with the wording of `text` (unchanged when `text` is None)."""
    if text is None:
        return tool
    schema = dict(tool.input_schema)
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and text.parameters:
        schema["properties"] = {
            name: (
                {**prop, "description": text.parameters[name]}
                if name in text.parameters and isinstance(prop, Mapping)
                else prop
            )
            for name, prop in properties.items()
        }
    return replace(tool, description=text.description, input_schema=schema)


def descriptions_sha256(texts: Mapping[str, ToolText]) -> str | None:
    """A digest of a set of tool descriptions, for records (None for none)."""
    if not texts:
        return None
    canonical = json.dumps({name: text.to_json() for name, text in texts.items()}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_tool_descriptions(path: Path | str) -> dict[str, ToolText]:
    """Read a descriptions file; raise `HarnessError` naming the file and the entry at fault."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE:
        raise HarnessError(f"{path}: larger than {MAX_FILE} bytes")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HarnessError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: an object {{tool: {{description, parameters}}}}")
    texts: dict[str, ToolText] = {}
    for name, entry in data.items():
        where = f"{path}: {name}"
        if not isinstance(entry, dict) or set(entry) - {"description", "parameters"}:
            raise HarnessError(f"{where}: an object with 'description' and optionally 'parameters'")
        description = entry.get("description")
        parameters = entry.get("parameters", {})
        if not isinstance(description, str) or not description.strip():
            raise HarnessError(f"{where}.description: a non-empty string")
        if not isinstance(parameters, dict) or not all(isinstance(v, str) for v in parameters.values()):
            raise HarnessError(f"{where}.parameters: an object {{parameter: description}}")
        texts[name] = ToolText(description, dict(parameters))
    return texts
