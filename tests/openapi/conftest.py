"""Fixtures for OpenAPI import: where the reference documents are, and the synthesis fixtures it reuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED
from tests.synth.conftest import fake_llm, servers_root

__all__ = ["CORPUS", "NODE_MODULES", "fake_llm", "node_document", "servers_root"]

NODE_MODULES = REPO / "node_modules"
CORPUS = SHARED / "reference" / "openapi-corpus" / "docs"
PETCLINIC = Path(__file__).parent / "petclinic.yaml"


def node_document(relative: str) -> Path:
    """A document shipped by an npm package pinned in package-lock.json; skip when `.ci/install-node.sh` has not run."""
    path = NODE_MODULES / relative
    if not path.exists():
        pytest.skip(f"{relative} is not installed (run: bash .ci/install-node.sh)")
    return path
