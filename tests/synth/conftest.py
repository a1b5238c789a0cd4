"""Fixtures for synthesis: a scripted loopback model, a scratch servers root, copies of catalog environments."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.testing import FakeLLM
from mcpfactory.compiler import compile_spec
from mcpfactory.synth.model import Model, ModelConfig
from tests.conftest import CATALOG

ENVS_WITH_SERVERS = sorted(p.parent.name for p in CATALOG.glob("*/server.py") if (p.parent / "spec.yaml").exists())


def model_for(llm: FakeLLM, **options: object) -> Model:
    """A `Model` pointed at the fake, retrying at once (no backoff sleeps)."""
    config = {"backoff_s": 0.0, "timeout_s": 20.0, **options}
    return Model(ModelConfig("openai/fake", api_base=llm.url, api_key="fake", **config))  # type: ignore[arg-type]


@pytest.fixture
def servers_root(tmp_path: Path) -> Path:
    """An empty servers root, never the catalog."""
    root = tmp_path / "servers"
    root.mkdir()
    return root


@pytest.fixture
def env_copy(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a catalog environment's spec and data into a scratch folder and compile it there."""

    def copy(env: str) -> Path:
        target = tmp_path / "copies" / env
        target.mkdir(parents=True)
        shutil.copy2(CATALOG / env / "spec.yaml", target / "spec.yaml")
        if (CATALOG / env / "data").is_dir():
            shutil.copytree(CATALOG / env / "data", target / "data")
        compile_spec(target / "spec.yaml")
        return target

    return copy


@pytest.fixture
def fake_llm() -> Iterator[Callable[..., FakeLLM]]:
    """Start fakes scripted per test; every one is closed when the test ends."""
    started: list[FakeLLM] = []

    def start(*args: object, **kwargs: object) -> FakeLLM:
        llm = FakeLLM(*args, **kwargs).start()  # type: ignore[arg-type]
        started.append(llm)
        return llm

    yield start
    for llm in started:
        llm.close()
