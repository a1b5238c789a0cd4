"""The pydantic model of a spec file; its JSON Schema is what synthesis hands to a model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CONSTRAINT_NAMES",
    "AuthSpec",
    "CallSpec",
    "CollectionSpec",
    "Constraints",
    "EnvSpec",
    "ExampleSpec",
    "FieldSpec",
    "HelperSpec",
    "InvariantSpec",
    "LimitsSpec",
    "PageSpec",
    "ParamSpec",
    "ScenarioSpec",
    "ToolSpec",
    "TypeSpec",
    "ViewSpec",
]

IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]*$"

Render = Literal["json", "python"]
_RENDER = (
    "How a result becomes the text block the model reads: 'json' (a string as it is, anything else as JSON) or "
    "'python' (a string as it is, a dict as JSON with ASCII escapes, falling back to str(); anything else as "
    "str(), so lists and None read as Python writes them). See docs/spec.md."
)
_ERROR_WHEN = (
    "A Python expression over `result` (the value the body returned): when it is true, the call comes back "
    "as an isError result, with its writes kept. For APIs that signal some failures by returning them."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Constraints(_Strict):
    """Value constraints on a field or parameter, as in JSON Schema; they apply to the value when it is not null."""

    minimum: int | float | None = Field(None, description="Numbers: the smallest value allowed.")
    maximum: int | float | None = Field(None, description="Numbers: the largest value allowed.")
    exclusive_minimum: int | float | None = Field(None, description="Numbers: values must be above this.")
    exclusive_maximum: int | float | None = Field(None, description="Numbers: values must be below this.")
    multiple_of: int | float | None = Field(None, gt=0, description="Numbers: values must be a multiple of this.")
    min_length: int | None = Field(None, ge=0, description="Strings: the fewest characters allowed.")
    max_length: int | None = Field(None, ge=0, description="Strings: the most characters allowed.")
    pattern: str | None = Field(None, description="Strings: a regular expression the value must contain a match of.")
    format: str | None = Field(
        None, description="Strings: a JSON Schema format ('date-time', 'email', ...), stated in the schema only."
    )
    min_items: int | None = Field(None, ge=0, description="Lists: the fewest items allowed.")
    max_items: int | None = Field(None, ge=0, description="Lists: the most items allowed.")

    def constraints(self) -> dict[str, Any]:
        """The constraints given, by name."""
        return {name: getattr(self, name) for name in CONSTRAINT_NAMES if getattr(self, name) is not None}


CONSTRAINT_NAMES = tuple(Constraints.model_fields)


class FieldSpec(Constraints):
    """A record field: a type, with an optional description; `optional` fields may be absent."""

    type: str = Field(description="Type in the compact syntax, e.g. 'str', 'list[Item]', 'int | None'.")
    description: str | None = None
    optional: bool = Field(False, description="The key may be absent from a record.")


class ParamSpec(Constraints):
    """A tool parameter; a parameter with a `default` is optional."""

    type: str = Field("str", description="Type in the compact syntax.")
    description: str | None = None
    default: Any = Field(None, description="Default value; makes the parameter optional.")
    enum: list[str | int] | None = Field(None, description="Allowed values (shorthand for a Literal type).")
    alias: str | None = Field(
        None,
        description="The argument's name in the tool's schema when it cannot be the body's variable name "
        "(a reserved name such as 'state', or a Python keyword); the mapping key is then the variable name.",
    )

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set


class TypeSpec(_Strict):
    """A named object type usable wherever a type is: its fields, or a union of other object types."""

    description: str | None = None
    fields: dict[str, str | FieldSpec] = Field(default_factory=dict)
    union: list[str] | None = Field(
        None, description="Instead of fields: the object types a value may be one of, e.g. [Cat, Dog]."
    )
    discriminator: str | None = Field(
        None, description="With union: the field whose Literal value says which of the types a value is."
    )


class CollectionSpec(_Strict):
    """A keyed collection of records: part of the state."""

    record: str = Field(description="Name of the record type, e.g. 'Book'.", pattern=IDENTIFIER)
    key: str | list[str] = Field(
        description="Name of the key field (a str or int field; if declared it must equal the key), or a list of "
        "str/int fields that together make a composite key, e.g. [owner, repo, number]."
    )
    description: str | None = None
    fields: dict[str, str | FieldSpec]
    seed: str | list[dict[str, Any]] | dict[str, dict[str, Any]] = Field(
        default_factory=list,
        description="Seed records: a path to a JSON file relative to the spec, or inline records.",
    )


class CallSpec(_Strict):
    """A tool call made before an example."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class ExampleSpec(_Strict):
    """A tool example run on a fresh session: `args` and either `returns` or `error`."""

    args: dict[str, Any] = Field(default_factory=dict)
    returns: Any = Field(None, description="The expected structured result (unwrapped).")
    error: str | None = Field(None, description="The expected domain error code.")
    before: list[CallSpec] = Field(default_factory=list, description="Calls made first, on the same session.")

    @property
    def expects_result(self) -> bool:
        return "returns" in self.model_fields_set


class PageSpec(_Strict):
    """How a list tool returns its results a page at a time; the body returns the whole list."""

    style: Literal["cursor", "offset", "page"] = Field(
        description="cursor: an opaque next_cursor; offset: items to skip; page: a page number from 1."
    )
    size: int = Field(20, ge=1, description="Items in a page when the caller gives no limit.")
    max_size: int = Field(100, ge=1, le=10_000, description="The largest limit a caller may ask for.")
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Argument names other than the defaults (cursor, offset, page, limit), e.g. {limit: per_page}.",
    )


class ToolSpec(_Strict):
    """A tool: its interface, the domain errors it may raise, its body and examples."""

    description: str
    effect: Literal["read", "write"]
    params: dict[str, str | ParamSpec] = Field(default_factory=dict)
    returns: str = Field(description="Return type in the compact syntax.")
    errors: dict[str, str] = Field(
        default_factory=dict, description="Error code -> message template with {placeholders}."
    )
    body: str = Field(description="Python function body over `state`; see docs/spec.md.")
    examples: list[ExampleSpec] = Field(default_factory=list)
    render: Render | None = Field(None, description=_RENDER + " Default: the environment's.")
    error_when: str | None = Field(None, description=_ERROR_WHEN + " Default: the environment's.")
    page: PageSpec | None = Field(None, description="Return the body's list a page at a time (list tools).")
    scopes: list[str] | None = Field(
        None,
        description="Scopes a caller needs, all of them (from auth.scopes); [] needs only a signed-in caller. "
        "Refused with 'unauthenticated' without a principal, 'forbidden' without a scope.",
    )


class HelperSpec(_Strict):
    """A function shared by tool bodies: called as `name(state, arg, ...)`; may raise its declared errors."""

    description: str | None = None
    params: dict[str, str | ParamSpec] = Field(default_factory=dict)
    returns: str = Field(description="Return type in the compact syntax.")
    errors: dict[str, str] = Field(
        default_factory=dict, description="Error codes it may raise; every tool that calls it may raise them too."
    )
    body: str = Field(description="Python function body over `state` and its parameters; see docs/spec.md.")


class ScenarioSpec(_Strict):
    """Typed parameters and a body that builds a session's whole initial state from them.

    A harness starts a session from a scenario with `_control_reset {"scenario": {...}}`;
    a task may start from one (`initial_state: {"scenario": {...}}`).
    """

    description: str | None = None
    params: dict[str, str | ParamSpec] = Field(default_factory=dict)
    body: str = Field(
        description="Python function body over its parameters (and `state`, the seed, read-only) that returns "
        "the initial state as {collection: {key: record}}; see docs/spec.md."
    )


class ViewSpec(_Strict):
    """A named read-only projection of the state, served to harnesses by `_control_view`."""

    description: str | None = None
    returns: str = Field("any", description="Type of the view in the compact syntax.")
    body: str = Field(description="Python function body over `state` (read-only) that returns the view.")


class InvariantSpec(_Strict):
    """A Python expression over `state` that must hold after every call."""

    name: str = Field(pattern=IDENTIFIER)
    check: str
    message: str | None = None


class LimitsSpec(_Strict):
    """What one tool call may use; a call past a bound ends as an environment fault (docs/server.md)."""

    cpu_s: float = Field(0.5, gt=0, le=60, description="CPU seconds one call may use.")
    memory_mb: float = Field(256, gt=0, le=65536, description="Megabytes one call may grow the server's memory by.")


class AuthSpec(_Strict):
    """Who calls: the principal's type, the scopes the environment knows, and who a new session is."""

    principal: str = Field(description="The type of principal(): a named object type or record type.")
    default: dict[str, Any] | None = Field(
        None, description="The principal of a new session; omitted or null: sessions start anonymous."
    )
    scopes: list[str] = Field(default_factory=list, description="Every scope tools may require, e.g. [repo, user].")
    default_scopes: list[str] | None = Field(
        None, description="The scopes of a new session's principal; default: all of `scopes`."
    )


class EnvSpec(_Strict):
    """An environment: state, tools and invariants, compiled into a standalone MCP server."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Environment and package name.")
    description: str
    version: str = "0.1.0"
    policy: str | None = Field(None, description="Rules shown to agents as the server's instructions.")
    clock: str = Field("2024-01-01T00:00:00", description="ISO datetime that now() returns in bodies.")
    time: Literal["fixed", "session"] = Field(
        "fixed",
        description="fixed: now() is always `clock`; session: each session's clock starts at `clock` and moves "
        "forward when a write tool calls advance(...).",
    )
    auth: AuthSpec | None = Field(None, description="Callers: a principal() and scopes tools may require.")
    seed: int = Field(0, description="Default seed of each session's random generator.")
    render: Render = Field("json", description=_RENDER)
    error_when: str | None = Field(None, description=_ERROR_WHEN)
    types: dict[str, TypeSpec] = Field(default_factory=dict)
    collections: dict[str, CollectionSpec]
    helpers: dict[str, HelperSpec] = Field(default_factory=dict, description="Functions shared by tool bodies.")
    tools: dict[str, ToolSpec]
    invariants: list[InvariantSpec] = Field(default_factory=list)
    limits: LimitsSpec = Field(
        default_factory=lambda: LimitsSpec.model_validate({}), description="Bounds on every tool call."
    )
    scenario: ScenarioSpec | None = Field(None, description="How a session's initial state is built from parameters.")
    views: dict[str, ViewSpec] = Field(default_factory=dict, description="Named read-only projections of the state.")
