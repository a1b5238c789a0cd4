"""The exceptions synthesis raises, under `MCPFactoryError`.

```
MCPFactoryError
 ├── ModelError              a model call failed for good (harness.llm, the one model layer)
 │    └── CacheMiss          replay mode: a request that the cache never recorded
 └── SynthError              synthesis could not do what it was asked
      ├── OutputError        the model's reply held no JSON (or YAML) that validates
      ├── DraftRejected      no draft passed within the allowed rounds
      └── OpenAPIError       an OpenAPI document that cannot be turned into a spec
```
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import ModelError
from mcpfactory.errors import MCPFactoryError

__all__ = ["CacheMiss", "DraftRejected", "ModelError", "OpenAPIError", "OutputError", "SynthError"]


class SynthError(MCPFactoryError):
    """Base class of the errors synthesis raises on purpose."""


class CacheMiss(ModelError):
    """Replay mode met a request the cache does not hold; `key` names the entry it looked for."""

    def __init__(self, *, model: str, key: str, cache_dir: Path) -> None:
        self.key = key
        self.cache_dir = cache_dir
        super().__init__(
            f"{model}: no recorded response for request {key[:16]} in {cache_dir} (replay mode)",
            kind="bad_request",
            model=model,
        )


class OutputError(SynthError):
    """A reply that does not hold the structured value asked for; `problems` says why, `text` is the reply."""

    def __init__(self, message: str, *, text: str, problems: list[str]) -> None:
        self.text = text
        self.problems = problems
        super().__init__(message)


class DraftRejected(SynthError):
    """Every round's draft failed; `run_dir` holds the log of each round (prompt, reply, errors)."""

    def __init__(self, message: str, *, rounds: int, run_dir: Path) -> None:
        self.rounds = rounds
        self.run_dir = run_dir
        super().__init__(message)


class OpenAPIError(SynthError):
    """An OpenAPI document that cannot be read or mapped onto a spec; `where` is a JSON pointer."""

    def __init__(self, message: str, *, file: Path, where: str = "") -> None:
        self.file = file
        self.where = where
        super().__init__(f"{file}: {where + ': ' if where else ''}{message}")
