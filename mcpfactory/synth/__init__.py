"""Synthesis: environments and tasks written with a model's help, kept only when the checks pass.

- `model`: one interface to chat models over litellm (retries, structured
  output with a text fallback, token and cost accounting, record/replay cache);
- `synthesize_tasks`: tasks from an environment's tool graph and seed, checked
  on the environment itself (a model only words their instructions);
- `synthesize_env`: a spec drafted by a model and repaired from the loader's,
  compiler's and verifier's errors until it passes.

Names are imported on first use (PEP 562), so the command line, which loads
`mcpfactory.synth.cli` for every command, pays nothing for them; litellm is
imported on the first model request.
"""

from __future__ import annotations

import importlib
import typing
from typing import Any

if typing.TYPE_CHECKING:
    from mcpfactory.synth._errors import CacheMiss, DraftRejected, ModelError, OpenAPIError, OutputError, SynthError
    from mcpfactory.synth.env import EnvResult, synthesize_env
    from mcpfactory.synth.graph import ToolGraph, build_graph
    from mcpfactory.synth.model import Model, ModelConfig, Reply, Usage
    from mcpfactory.synth.tasks import SynthReport, append_tasks, read_tasks, synthesize_tasks

_WHERE = {
    "CacheMiss": "_errors",
    "DraftRejected": "_errors",
    "ModelError": "_errors",
    "OpenAPIError": "_errors",
    "OutputError": "_errors",
    "SynthError": "_errors",
    "EnvResult": "env",
    "synthesize_env": "env",
    "ToolGraph": "graph",
    "build_graph": "graph",
    "Model": "model",
    "ModelConfig": "model",
    "Reply": "model",
    "Usage": "model",
    "SynthReport": "tasks",
    "append_tasks": "tasks",
    "read_tasks": "tasks",
    "synthesize_tasks": "tasks",
}

__all__ = [
    "CacheMiss",
    "DraftRejected",
    "EnvResult",
    "Model",
    "ModelConfig",
    "ModelError",
    "OpenAPIError",
    "OutputError",
    "Reply",
    "SynthError",
    "SynthReport",
    "ToolGraph",
    "Usage",
    "append_tasks",
    "build_graph",
    "read_tasks",
    "synthesize_env",
    "synthesize_tasks",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
