"""Name what to verify: an environment of the catalog, or a spec file or folder anywhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcpfactory.catalog import catalog_root, env_names
from mcpfactory.runtime import UnknownEnvironment

__all__ = ["Target", "locate"]


@dataclass(frozen=True, slots=True)
class Target:
    """A spec to verify; `catalog_env` is set when it is a catalog environment, verified in place."""

    label: str
    spec_path: Path
    catalog_env: str | None

    @property
    def name(self) -> str:
        return self.catalog_env or self.spec_path.parent.name


def locate(label: str | Path) -> Target:
    """Resolve an environment name or a spec path; raise `UnknownEnvironment` naming the known ones."""
    text = str(label)
    path = Path(text)
    if path.exists():
        spec = path / "spec.yaml" if path.is_dir() else path
        if not spec.exists():
            raise UnknownEnvironment(text, f"{path} (it holds no spec.yaml)")
        spec = spec.resolve()
        root = catalog_root().resolve()
        in_catalog = spec.name == "spec.yaml" and spec.parent.parent == root
        return Target(text, spec, spec.parent.name if in_catalog else None)
    root = catalog_root()
    if (root / text / "spec.yaml").exists():
        return Target(text, (root / text / "spec.yaml").resolve(), text)
    raise UnknownEnvironment(text, f"the catalog {root} or as a spec path", env_names(root))
