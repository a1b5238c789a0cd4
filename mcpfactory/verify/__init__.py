"""The verifier: deterministic proof that a compiled server does what its spec says.

`verify_env` checks one environment (a catalog name or a spec path anywhere)
and returns an `EnvReport`; `verify_envs` checks several in parallel worker
processes. The checks, in order, are listed in `CHECK_NAMES` (see
docs/verify.md). `servers/verified.json` records which environments passed for
which spec; `is_verified` reads it.
"""

from mcpfactory.verify._manifest import VERIFIER_VERSION, is_verified, manifest_path, read_manifest, record_reports
from mcpfactory.verify._report import CheckResult, EnvReport, Status
from mcpfactory.verify._runner import DEFAULT_BUDGET, verify_env, verify_envs
from mcpfactory.verify.checks import CHECKS as _CHECKS
from mcpfactory.verify.checks import Options

CHECK_NAMES: tuple[str, ...] = tuple(_CHECKS)

__all__ = [
    "CHECK_NAMES",
    "DEFAULT_BUDGET",
    "VERIFIER_VERSION",
    "CheckResult",
    "EnvReport",
    "Options",
    "Status",
    "is_verified",
    "manifest_path",
    "read_manifest",
    "record_reports",
    "verify_env",
    "verify_envs",
]
