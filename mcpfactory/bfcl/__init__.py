"""BFCL's multi-turn suite through MCP: its tasks as mcpfactory tasks, its wording, and its own checker beside ours.

`mcpfactory import bfcl` reads an installed `bfcl-eval` (the release the
environments were checked against, `BFCL_EVAL_VERSION`) and writes its
multi-turn categories as tasks of the catalog's `bfcl_*` environments, judged
turn by turn (docs/bfcl.md). Nothing of BFCL's wording is part of this
package: it is read from the installed package when asked for.
"""

from ._calls import call_string, parse_call
from ._convert import bfcl_task, import_bfcl, tool_parameters
from ._crosscheck import PERTURBATIONS, BFCLChecker, Comparison, TrajectoryPolicy, crosscheck, trajectory
from ._descriptions import tool_descriptions
from ._errors import BFCLError
from ._source import BFCL_EVAL_VERSION, CATEGORIES, CLASS_ENVS, BFCLSource, Entry

__all__ = [
    "BFCL_EVAL_VERSION",
    "CATEGORIES",
    "CLASS_ENVS",
    "PERTURBATIONS",
    "BFCLChecker",
    "BFCLError",
    "BFCLSource",
    "Comparison",
    "Entry",
    "TrajectoryPolicy",
    "bfcl_task",
    "call_string",
    "crosscheck",
    "import_bfcl",
    "parse_call",
    "tool_descriptions",
    "tool_parameters",
    "trajectory",
]
