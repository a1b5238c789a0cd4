"""The compiler: spec -> standalone MCP server package beside the spec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcpfactory.compiler._codegen import generate
from mcpfactory.errors import DriftError
from mcpfactory.spec import LoadedSpec, load_spec

__all__ = ["CompileResult", "check_spec", "compile_spec", "generate", "raise_on_drift"]


@dataclass(frozen=True, slots=True)
class CompileResult:
    """What compiling one spec did: the files written and those already current."""

    spec: LoadedSpec
    written: list[Path]
    unchanged: list[Path]


def compile_spec(path: str | Path) -> CompileResult:
    """Load a spec and write its server package beside it; raise `SpecError` if it does not load."""
    spec = load_spec(path)
    written: list[Path] = []
    unchanged: list[Path] = []
    for name, source in generate(spec).items():
        target = spec.path.parent / name
        if target.exists() and target.read_text(encoding="utf-8") == source:
            unchanged.append(target)
            continue
        target.write_text(source, encoding="utf-8")
        written.append(target)
    return CompileResult(spec, written, unchanged)


def check_spec(path: str | Path) -> list[Path]:
    """Return the generated files of a spec that are missing or differ from what it generates."""
    spec = load_spec(path)
    drifted: list[Path] = []
    for name, source in generate(spec).items():
        target = spec.path.parent / name
        if not target.exists() or target.read_text(encoding="utf-8") != source:
            drifted.append(target)
    return drifted


def raise_on_drift(paths: list[str | Path]) -> None:
    """Raise `DriftError` naming every generated file that is out of date."""
    drifted = [p for path in paths for p in check_spec(path)]
    if drifted:
        raise DriftError(drifted)
