"""Where environments live: the `servers/` package and its compiled modules."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["catalog_root", "env_names", "server_module", "spec_path"]


def catalog_root() -> Path:
    """Return the `servers/` folder: beside the working directory if it has one, else the installed package."""
    local = Path.cwd() / "servers"
    if (local / "__init__.py").exists():
        return local
    import servers

    return Path(servers.__file__).parent


def env_names(root: Path | None = None) -> list[str]:
    """Names of the environments with a spec in the catalog, sorted."""
    root = root or catalog_root()
    return sorted(path.parent.name for path in root.glob("*/spec.yaml"))


def spec_path(env: str, root: Path | None = None) -> Path:
    """Return the spec file of an environment, raising `LookupError` naming the known ones."""
    root = root or catalog_root()
    path = root / env / "spec.yaml"
    if not path.exists():
        known = ", ".join(env_names(root)) or "none"
        raise LookupError(f"no environment {env!r} in {root} (known: {known})")
    return path


def server_module(env: str) -> ModuleType:
    """Import `servers.<env>.server`, the compiled server of an environment."""
    root = catalog_root()
    parent = str(root.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    spec_path(env, root)
    return importlib.import_module(f"servers.{env}.server")
