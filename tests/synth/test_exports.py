"""The synthesis packages say what they export, and every exported name exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["mcpfactory.synth", "mcpfactory.synth.model", "mcpfactory.synth.graph", "mcpfactory.openapi"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_public_names_are_all_exported(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, member) for member in exported)
    defined_here = {
        member
        for member, value in vars(module).items()
        if not member.startswith("_")
        and getattr(value, "__module__", name).startswith(name)
        and not isinstance(value, type(module))
    }
    assert defined_here <= exported | {"annotations"}


def test_importing_synthesis_does_not_import_litellm() -> None:
    import subprocess
    import sys

    code = "import sys, mcpfactory.synth.cli, mcpfactory.synth; mcpfactory.synth.Model; print('litellm' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
