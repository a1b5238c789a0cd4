"""Synthesis is importable without paying for litellm's import until a model is called."""

from __future__ import annotations

import subprocess
import sys


def test_importing_synthesis_does_not_import_litellm() -> None:
    code = "import sys, mcpfactory.synth.cli, mcpfactory.synth; mcpfactory.synth.Model; print('litellm' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
