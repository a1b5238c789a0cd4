"""Environment specs: the pydantic model, the type syntax and the loader."""

from mcpfactory.spec._loader import LoadedSpec, ResolvedField, ResolvedParam, load_spec, spec_sha256
from mcpfactory.spec._model import (
    AuthSpec,
    CallSpec,
    CollectionSpec,
    EnvSpec,
    ExampleSpec,
    FieldSpec,
    InvariantSpec,
    LimitsSpec,
    PageSpec,
    ParamSpec,
    ToolSpec,
    TypeSpec,
)
from mcpfactory.spec._types import TypeExpr

__all__ = [
    "AuthSpec",
    "CallSpec",
    "CollectionSpec",
    "EnvSpec",
    "ExampleSpec",
    "FieldSpec",
    "InvariantSpec",
    "LimitsSpec",
    "LoadedSpec",
    "PageSpec",
    "ParamSpec",
    "ResolvedField",
    "ResolvedParam",
    "ToolSpec",
    "TypeExpr",
    "TypeSpec",
    "load_spec",
    "spec_sha256",
]
