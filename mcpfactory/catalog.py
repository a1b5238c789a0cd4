"""Where environments live: the `servers/` package, its compiled modules and their status.

The one implementation is the runtime's (`mcpfactory.runtime._catalog`), which
the harness shares; this module is its public face for the rest of mcpfactory.
"""

from mcpfactory.runtime._catalog import (
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

__all__ = [
    "MANIFEST_NAME",
    "catalog_root",
    "catalog_tasks",
    "env_names",
    "read_spec_sha256",
    "runnable_envs",
    "server_module",
    "spec_files_sha256",
    "spec_path",
    "usability_problem",
]
