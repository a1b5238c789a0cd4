"""The catalog: where environments live, which compiled server is current, and which the verifier passed.

`servers/` holds one folder per environment: `spec.yaml` (the source), seed
data, `tasks.jsonl` and the generated server package, whose provenance header
records the hash of the spec (with its seed data) it was compiled from. The
verifier's manifest, `servers/verified.json`, records which spec hashes passed.
An environment is *usable* when its compiled server is current with its spec
and the verifier passed that spec.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from ._errors import UnknownEnvironment
from ._tasks import Task, load_tasks

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

MANIFEST_NAME = "verified.json"
_HEADER_LINES = 5


def catalog_root() -> Path:
    """Return the `servers/` folder: beside the working directory if it has one, else the installed package."""
    local = Path.cwd() / "servers"
    if (local / "__init__.py").exists():
        return local
    found = importlib.util.find_spec("servers")
    if found is None or found.origin is None:
        raise UnknownEnvironment("servers", f"{Path.cwd()} or the installed packages (no catalog found)")
    return Path(found.origin).parent


def env_names(root: Path | None = None) -> list[str]:
    """Names of the environments with a spec in the catalog, sorted."""
    root = root or catalog_root()
    return sorted(path.parent.name for path in root.glob("*/spec.yaml"))


def runnable_envs(root: Path | None = None) -> list[str]:
    """Environments that have both a compiled server and a tasks file, sorted."""
    root = root or catalog_root()
    return sorted(path.parent.name for path in root.glob("*/tasks.jsonl") if (path.parent / "server.py").is_file())


def catalog_tasks(env: str, root: Path | None = None) -> list[Task]:
    """The catalog's tasks of one environment; raise `UnknownEnvironment` if it has none."""
    root = root or catalog_root()
    path = root / env / "tasks.jsonl"
    if not path.is_file():
        raise UnknownEnvironment(env, f"{root} (no tasks file {env}/tasks.jsonl)", runnable_envs(root))
    return load_tasks(path, env=env)


def spec_path(env: str, root: Path | None = None) -> Path:
    """Return the spec file of an environment; raise `UnknownEnvironment` naming the known ones."""
    root = root or catalog_root()
    path = root / env / "spec.yaml"
    if not env or "/" in env or "\\" in env or env.startswith(".") or not path.is_file():
        raise UnknownEnvironment(env, str(root), env_names(root))
    return path


def server_module(env: str, root: Path | None = None) -> ModuleType:
    """Import `<root name>.<env>.server`, the compiled server of a catalog environment."""
    root = root or catalog_root()
    spec_path(env, root)
    if not (root / env / "server.py").is_file():
        raise UnknownEnvironment(env, f"{root} (it has a spec but no compiled server; run: mcpfactory compile)")
    parent = str(root.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    return importlib.import_module(f"{root.name}.{env}.server")


def spec_files_sha256(spec: Path, data_files: Iterable[Path] = ()) -> str:
    """Hash a spec and the seed files it names, so a change to either is a new version."""
    digest = hashlib.sha256(spec.read_bytes())
    for data in sorted(data_files):
        digest.update(b"\0" + data.relative_to(spec.parent).as_posix().encode() + b"\0")
        digest.update(data.read_bytes())
    return digest.hexdigest()


def read_spec_sha256(server_py: Path) -> str | None:
    """Read the spec hash from a generated server's provenance header, or None if it has none."""
    try:
        with server_py.open(encoding="utf-8") as handle:
            for _ in range(_HEADER_LINES):
                line = handle.readline()
                if line.startswith("# spec sha256"):
                    return line.rsplit(":", 1)[1].strip()
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _current_sha256(env: str, root: Path) -> str | None:
    """The hash of the spec and seed files as they are now, with the seed files the compiled server names."""
    try:
        module = server_module(env, root)
    except (ImportError, UnknownEnvironment):
        return None
    seed_files = getattr(module, "SEED_FILES", {})
    folder = root / env
    return spec_files_sha256(folder / "spec.yaml", [folder / relative for relative in seed_files.values()])


def _manifest(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    environments = data.get("environments") if isinstance(data, dict) else None
    return environments if isinstance(environments, dict) else None


def usability_problem(env: str, root: Path | None = None) -> str | None:
    """Why `env` may not be run (unknown, stale, unverified, quarantined), or None if it may.

    Stale means the compiled server was built from another version of the
    spec or its seed data than the files now hold (run `mcpfactory compile`).
    """
    root = root or catalog_root()
    spec_path(env, root)
    compiled = read_spec_sha256(root / env / "server.py")
    if compiled is None:
        return f"{env}: no compiled server (run: mcpfactory compile {env})"
    if _current_sha256(env, root) != compiled:
        return f"{env}: the compiled server is stale, its spec or seed data changed since (run: mcpfactory compile)"
    entries = _manifest(root)
    if entries is None:
        return f"{env}: no verifier manifest at {root / MANIFEST_NAME} (run: mcpfactory verify)"
    entry = entries.get(env)
    if not isinstance(entry, dict):
        return f"{env}: not verified (run: mcpfactory verify {env})"
    if entry.get("status") != "verified":
        return f"{env}: quarantined by the verifier ({entry.get('status')})"
    if entry.get("spec_sha256") != compiled:
        return f"{env}: verified for another version of its spec (run: mcpfactory verify {env})"
    return None
