"""The mcpfactory runtime: the one contract every part of the project imports.

Generated servers, the harness, the verifier and synthesis all speak through
these modules; the runtime depends only on the MCP SDK, pydantic, anyio and
the standard library, and imports nothing else of mcpfactory. One module per
concept:

- `_values`: JSON values, frozen and thawed; canonical JSON, the one equality
  (`same_value`) and the state hash.
- `_state`: a session's state, keyed collections over a frozen seed with
  copy-on-write writes, atomic per call.
- `_keys`: record keys (strings, integers, tuples) and their one text form on
  the wire.
- `_pages`: pages of a list tool's results (cursor, offset and page styles).
- `_caller`: who calls and when: the session's principal and scopes, and its
  clock, as bodies read them.
- `_tools`: a body's signature as an argument model and the MCP tool's schemas.
- `_calls`: the call boundary: `ToolError` (a domain error the model reads)
  versus environment faults (masked and flagged).
- `_bounds`: CPU time and memory bounds on each call; `_guards` and
  `guarded_re`: what bodies get instead of operations an alarm cannot stop.
- `_environment`: what a generated server declares: tools, invariants,
  scenarios and views.
- `_server`: whose session a request acts on, and the hidden control plane.
- `_main`: a server's command line (stdio or streamable HTTP).
- `_protocol`: wire constants (meta keys, control tool names) and the API
  version check generated servers run at import.
- `_client`: the one control-plane client (reset, snapshot, hash, views) over
  any MCP client.
- `_tasks`: the task model and its strict loader.
- `_facts`: facts stated in a conversation: numbers, dates and text, normalised.
- `_judge`: the one judge of a run against its task.
- `_errors`: the root of the exception tree (`MCPFactoryError`).

`mcpfactory compile --standalone` vendors this package into a server folder
that runs with only the MCP SDK installed, so its modules import each other
relatively.
"""

from . import guarded_re
from ._bounds import CallBoundExceeded, CallLimits
from ._caller import AUTH_ERRORS, Auth, advance, session_now, session_principal, session_scopes
from ._calls import ToolError, error_result, python_json, python_text, text_of
from ._catalog import (
    MANIFEST_NAME,
    catalog_root,
    catalog_tasks,
    env_names,
    read_spec_sha256,
    runnable_envs,
    server_module,
    spec_files_sha256,
    spec_path,
    usability_problem,
)
from ._client import EnvClient, ToolResult, unwrap
from ._environment import Environment, Scenario
from ._errors import (
    ConnectionLost,
    ControlError,
    InfraError,
    MCPFactoryError,
    RuntimeVersionError,
    TaskFileError,
    UnknownEnvironment,
)
from ._facts import Fact, Statements, parse_fact
from ._guards import UnsafePattern, power
from ._judge import (
    TRIVIAL_ANSWERS,
    Run,
    RunCall,
    StateView,
    TurnOutcome,
    Verdict,
    check_assertion,
    judge,
    with_defaults,
)
from ._keys import JsonArray, KeyKind, key_from_wire, key_kind_of_schema, key_to_wire
from ._pages import PAGE_ERRORS, PageStyle, Paging
from ._protocol import (
    API_VERSION,
    CONTROL_CLOSE,
    CONTROL_INVARIANTS,
    CONTROL_PREFIX,
    CONTROL_RESET,
    CONTROL_SECRET_ENV,
    CONTROL_SECRET_META_KEY,
    CONTROL_SNAPSHOT,
    CONTROL_STATE_HASH,
    CONTROL_TOOLS,
    CONTROL_VIEW,
    ERROR_META_KEY,
    FAULT_META_KEY,
    FORBIDDEN,
    INVALID_CURSOR,
    NEW_SESSION,
    REFS_META_KEY,
    RETURNED_ERROR,
    SESSION_META_KEY,
    UNAUTHENTICATED,
    check_api_version,
)
from ._state import Collection, KeyedCollection, Session, StateBase, load_json_seed
from ._tasks import Assertion, Call, Judge, Task, UserScenario, load_tasks, parse_task
from ._tools import ToolDef
from ._values import (
    FrozenDict,
    FrozenList,
    Number,
    ReadOnlyError,
    canonical_json,
    freeze,
    same_value,
    state_sha256,
    thaw,
)

__all__ = [
    "API_VERSION",
    "AUTH_ERRORS",
    "CONTROL_CLOSE",
    "CONTROL_INVARIANTS",
    "CONTROL_PREFIX",
    "CONTROL_RESET",
    "CONTROL_SECRET_ENV",
    "CONTROL_SECRET_META_KEY",
    "CONTROL_SNAPSHOT",
    "CONTROL_STATE_HASH",
    "CONTROL_TOOLS",
    "CONTROL_VIEW",
    "ERROR_META_KEY",
    "FAULT_META_KEY",
    "FORBIDDEN",
    "INVALID_CURSOR",
    "MANIFEST_NAME",
    "NEW_SESSION",
    "PAGE_ERRORS",
    "REFS_META_KEY",
    "RETURNED_ERROR",
    "SESSION_META_KEY",
    "TRIVIAL_ANSWERS",
    "UNAUTHENTICATED",
    "Assertion",
    "Auth",
    "Call",
    "CallBoundExceeded",
    "CallLimits",
    "Collection",
    "ConnectionLost",
    "ControlError",
    "EnvClient",
    "Environment",
    "Fact",
    "FrozenDict",
    "FrozenList",
    "InfraError",
    "JsonArray",
    "Judge",
    "KeyKind",
    "KeyedCollection",
    "MCPFactoryError",
    "Number",
    "PageStyle",
    "Paging",
    "ReadOnlyError",
    "Run",
    "RunCall",
    "RuntimeVersionError",
    "Scenario",
    "Session",
    "StateBase",
    "StateView",
    "Statements",
    "Task",
    "TaskFileError",
    "ToolDef",
    "ToolError",
    "ToolResult",
    "TurnOutcome",
    "UnknownEnvironment",
    "UnsafePattern",
    "UserScenario",
    "Verdict",
    "advance",
    "canonical_json",
    "catalog_root",
    "catalog_tasks",
    "check_api_version",
    "check_assertion",
    "env_names",
    "error_result",
    "freeze",
    "guarded_re",
    "judge",
    "key_from_wire",
    "key_kind_of_schema",
    "key_to_wire",
    "load_json_seed",
    "load_tasks",
    "parse_fact",
    "parse_task",
    "power",
    "python_json",
    "python_text",
    "read_spec_sha256",
    "runnable_envs",
    "same_value",
    "server_module",
    "session_now",
    "session_principal",
    "session_scopes",
    "spec_files_sha256",
    "spec_path",
    "state_sha256",
    "text_of",
    "thaw",
    "unwrap",
    "usability_problem",
    "with_defaults",
]
