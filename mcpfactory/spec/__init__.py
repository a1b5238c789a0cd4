"""Environment specs: the pydantic model, the type syntax and the loader."""

from mcpfactory.spec._loader import LoadedSpec, ResolvedField, ResolvedParam, load_spec, spec_sha256
from mcpfactory.spec._model import (
    CallSpec,
    CollectionSpec,
    EnvSpec,
    ExampleSpec,
    FieldSpec,
    InvariantSpec,
    LimitsSpec,
    ParamSpec,
    ToolSpec,
    TypeSpec,
)
from mcpfactory.spec._types import TypeExpr

__all__ = [
    "CallSpec",
    "CollectionSpec",
    "EnvSpec",
    "ExampleSpec",
    "FieldSpec",
    "InvariantSpec",
    "LimitsSpec",
    "LoadedSpec",
    "ParamSpec",
    "ResolvedField",
    "ResolvedParam",
    "ToolSpec",
    "TypeExpr",
    "TypeSpec",
    "load_spec",
    "spec_sha256",
]
