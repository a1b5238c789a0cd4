"""Each harness module says what it exports, and exports exist."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

import harness

MODULES = [
    "harness",
    "harness.cli",
    "harness.connection",
    "harness.conversation",
    "harness.env",
    "harness.episode",
    "harness.errors",
    "harness.export",
    "harness.testing",
    "harness.faults",
    "harness.gym",
    "harness.llm",
    "harness.policies",
    "harness.ray_backend",
    "harness.records",
    "harness.report",
    "harness.reward",
    "harness.runner",
    "harness.schema",
    "harness.user",
]

# The adapters import their trainer's package; each is listed when that package is installed.
for _adapter, _package in [
    ("harness.adapters.trl", "trl"),
    ("harness.adapters.openenv", "openenv"),
    ("harness.adapters.skyrl", "skyrl_gym"),
    ("harness.adapters.verifiers", "verifiers"),
]:
    if importlib.util.find_spec(_package) is not None:
        MODULES.append(_adapter)


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists_and_is_sorted(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert all(hasattr(module, item) for item in exported)
    assert len(set(exported)) == len(exported)
    assert list(exported) == sorted(exported, key=lambda n: (not n.isupper(), n))


def test_package_exports_are_its_public_names() -> None:
    public = {
        name
        for name, value in vars(harness).items()
        if not name.startswith("_") and not isinstance(value, type(harness))
    }
    assert public == set(harness.__all__)


def test_importing_the_harness_imports_the_runtime_but_not_litellm_or_the_rest_of_mcpfactory() -> None:
    import subprocess
    import sys

    code = (
        "import sys, harness; "
        "print('litellm' in sys.modules, "
        "sorted({m.split('.')[1] for m in sys.modules if m.startswith('mcpfactory.')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split(maxsplit=1) == ["False", "['runtime']\n"]
