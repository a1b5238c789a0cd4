"""The verifier's checks, in the order they run; each is one plain async function over a `CheckContext`.

| name | function | proves |
| --- | --- | --- |
| static | `spec_is_sound` | the spec loads and the server verified is what it generates |
| protocol | `server_speaks_mcp_over_stdio` | the server starts over stdio and speaks MCP as its spec says |
| examples | `examples_hold` | every tool example gives its expected result or error |
| lifecycle | `resources_live_as_documented` | an imported API's resources are created, read, listed, updated and deleted as its document says |
| fuzz | `fuzzed_calls_keep_the_contract` | drawn calls never fault, break a schema or invariant, hang or write from a read |
| determinism | `same_calls_same_results` | same calls from the same state, same results, in any session or process |
| isolation | `sessions_never_see_each_other` | interleaved sessions never observe each other's writes |
| tasks | `tasks_are_solvable_and_discriminating` | every task is solvable and judged by a check that can fail |
"""

from __future__ import annotations

from mcpfactory.verify.checks._base import CheckContext, CheckFn, Failed, Options, Passed, Skipped
from mcpfactory.verify.checks.determinism import same_calls_same_results
from mcpfactory.verify.checks.examples import examples_hold
from mcpfactory.verify.checks.fuzz import fuzzed_calls_keep_the_contract
from mcpfactory.verify.checks.isolation import sessions_never_see_each_other
from mcpfactory.verify.checks.lifecycle import resources_live_as_documented
from mcpfactory.verify.checks.protocol import server_speaks_mcp_over_stdio
from mcpfactory.verify.checks.static import spec_is_sound
from mcpfactory.verify.checks.tasks import tasks_are_solvable_and_discriminating

__all__ = [
    "CHECKS",
    "WEIGHTS",
    "CheckContext",
    "CheckFn",
    "Failed",
    "Options",
    "Passed",
    "Skipped",
    "examples_hold",
    "fuzzed_calls_keep_the_contract",
    "resources_live_as_documented",
    "same_calls_same_results",
    "server_speaks_mcp_over_stdio",
    "sessions_never_see_each_other",
    "spec_is_sound",
    "tasks_are_solvable_and_discriminating",
]

CHECKS: dict[str, CheckFn] = {
    "static": spec_is_sound,
    "protocol": server_speaks_mcp_over_stdio,
    "examples": examples_hold,
    "lifecycle": resources_live_as_documented,
    "fuzz": fuzzed_calls_keep_the_contract,
    "determinism": same_calls_same_results,
    "isolation": sessions_never_see_each_other,
    "tasks": tasks_are_solvable_and_discriminating,
}

# Shares of the time budget; a check that ends early leaves its time to those after it.
WEIGHTS: dict[str, float] = {
    "static": 1,
    "protocol": 2,
    "examples": 1,
    "lifecycle": 1,
    "fuzz": 4,
    "determinism": 2,
    "isolation": 1,
    "tasks": 3,
}
