"""Write spec data as readable YAML: multi-line strings (tool bodies) as literal blocks, keys in order."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

__all__ = ["dump_yaml"]


def _prepare(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _prepare(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    # Literal blocks cannot hold trailing spaces or tabs that YAML would mangle; those stay quoted.
    if (
        isinstance(value, str)
        and "\n" in value.strip()
        and "\t" not in value
        and not any(line != line.rstrip() for line in value.splitlines())
    ):
        return LiteralScalarString(value if value.endswith("\n") else value + "\n")
    return value


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Render `data` as block-style YAML that the spec loader reads back to the same values."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(_prepare(data), out)
    return out.getvalue()
