"""Each package says what it exports, and every exported name exists (after httpx's test_exported_members)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "mcpfactory",
    "mcpfactory.spec",
    "mcpfactory.compiler",
    "mcpfactory.errors",
    "mcpfactory.runtime",
    "mcpfactory.verify",
    "mcpfactory.verify.checks",
    "mcpfactory.verify.cli",
    "mcpfactory.synth",
    "mcpfactory.synth.model",
    "mcpfactory.synth.graph",
    "mcpfactory.openapi",
]


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
