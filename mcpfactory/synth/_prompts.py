"""Prompt templates: files under `mcpfactory/synth/prompts/`, filled with `string.Template` (`$name`).

`$`-placeholders leave the braces of JSON and Python in a prompt alone; a
placeholder the caller does not fill is an error, never a silent blank.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

__all__ = ["PROMPTS", "render"]

PROMPTS = Path(__file__).parent / "prompts"


@cache
def _template(name: str) -> string.Template:
    return string.Template((PROMPTS / f"{name}.md").read_text(encoding="utf-8"))


def render(template: str, /, **values: object) -> str:
    """Fill the template `prompts/<template>.md`; raise `KeyError` naming a placeholder left unfilled."""
    return _template(template).substitute({key: str(value) for key, value in values.items()}).strip() + "\n"
