"""Tool input schemas: validate a model's arguments before calling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from harness.connection import ToolSpec

__all__ = ["ArgumentChecker", "resolve_ref"]


def resolve_ref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local `$ref` (`#/$defs/Name`) to its definition; other schemas come back as they are."""
    seen = 0
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/") and seen < 32:
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        schema = target if isinstance(target, Mapping) else {}
        seen += 1
    return schema


def _where(error: ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required" and isinstance(error.message, str):
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return f"{path}.{missing}".strip(".") or "(arguments)"
    if error.validator == "additionalProperties":
        return path or "(arguments)"
    return path or "(arguments)"


class ArgumentChecker:
    """Validate call arguments against the listed tools' input schemas (JSON Schema 2020-12).

    Validators are compiled once per tool. `check` returns None for valid
    arguments, else a message naming each bad field, the text the model gets back.
    """

    def __init__(self, tools: list[ToolSpec]) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._validators: dict[str, Draft202012Validator] = {}

    def known(self, name: str) -> bool:
        return name in self._tools

    def check(self, name: str, arguments: Mapping[str, Any]) -> tuple[str | None, list[str]]:
        """Return `(message, fields)`: `(None, [])` when the arguments are valid."""
        tool = self._tools.get(name)
        if tool is None:
            return f"Unknown tool: {name}. Available tools: {', '.join(sorted(self._tools))}.", []
        validator = self._validators.get(name)
        if validator is None:
            validator = self._validators[name] = Draft202012Validator(dict(tool.input_schema))
        errors = sorted(validator.iter_errors(dict(arguments)), key=lambda e: list(e.absolute_path))
        if not errors:
            return None, []
        fields = [_where(error) for error in errors]
        problems = "; ".join(f"{field}: {error.message}" for field, error in zip(fields, errors, strict=True))
        return f"Invalid arguments for {name}: {problems}", fields
