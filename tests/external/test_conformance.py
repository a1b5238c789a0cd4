"""The official MCP conformance suite against a compiled server over streamable HTTP.

Runs `conformance server --suite all` (@modelcontextprotocol/conformance, pinned
in package.json) against one catalog server started with
`python -m servers.<env> --http --port P`, and compares each scenario's outcome
with tests/external/conformance-baseline.yml (see docs/conformance.md):

- a scenario not in the baseline must pass (no FAILURE and no WARNING check);
- a scenario in the baseline's `server` list must fail: one that starts passing
  is a stale entry, and fails the test so the baseline stays honest;
- a scenario in `false_passes` must pass only because it got our `unknown_tool`
  error result (it calls a fixture tool we do not have), and a scenario that
  passes only that way must be listed there.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mcpfactory.runtime import ERROR_META_KEY
from tests.external.node_clients import (
    HERE,
    CompiledServer,
    NodeTools,
    catalog_server,
    catalog_servers,
    free_port,
    stop,
    wait_for_port,
)

BASELINE = HERE / "conformance-baseline.yml"
# The catalog server to test, in order of preference; the runtime is shared, so one is enough.
PREFERRED = ["todo"]
ERROR_META_KEY = ERROR_META_KEY
RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


def load_baseline() -> dict[str, Any]:
    data = YAML(typ="safe").load(BASELINE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{BASELINE}: expected a mapping"
    return data


def test_baseline_is_well_formed() -> None:
    baseline = load_baseline()
    assert set(baseline) == {"server", "reasons", "false_passes"}, sorted(baseline)
    expected_failures = baseline["server"]
    reasons = baseline["reasons"]
    false_passes = baseline["false_passes"]
    assert len(expected_failures) == len(set(expected_failures)), "duplicate entries in server"
    assert set(expected_failures) == set(reasons), (
        f"without a reason: {sorted(set(expected_failures) - set(reasons))}; "
        f"a reason but not listed: {sorted(set(reasons) - set(expected_failures))}"
    )
    assert not set(expected_failures) & set(false_passes), "a scenario is both an expected failure and a false pass"
    for name, why in {**reasons, **false_passes}.items():
        assert isinstance(why, str) and len(why) > 20, f"{name}: give the reason"


def conformance_target() -> CompiledServer | None:
    compiled = catalog_servers()
    for env in [*PREFERRED, *compiled]:
        if env in compiled:
            return catalog_server(env)
    return None


@pytest.fixture
def target(request: pytest.FixtureRequest) -> CompiledServer:
    server = conformance_target()
    if server is not None:
        return server
    # No catalog server is compiled yet: use the fixture spec, so the suite still runs.
    compiled: dict[str, CompiledServer] = request.getfixturevalue("compiled_fixtures")
    return compiled["shelf"]


def server_scenarios(node_tools: NodeTools) -> list[str]:
    listed = node_tools.conformance("list", "--server", timeout=60)
    assert listed.returncode == 0, listed.describe()
    names = re.findall(r"^\s+- ([a-z0-9-]+)", listed.stdout, flags=re.MULTILINE)
    assert names, f"could not read the scenario list\n{listed.describe()}"
    return names


def read_results(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """{scenario: checks} from the suite's output folder (one `server-<scenario>-<timestamp>/checks.json` each)."""
    results: dict[str, list[dict[str, Any]]] = {}
    for checks in sorted(out_dir.glob("*/checks.json")):
        match = RESULT_DIR.match(checks.parent.name)
        assert match, f"unexpected result folder {checks.parent.name}"
        scenario = match["scenario"]
        assert scenario not in results, f"two result folders for {scenario}"
        results[scenario] = json.loads(checks.read_text(encoding="utf-8"))
    return results


def failed(checks: list[dict[str, Any]]) -> list[str]:
    return [
        f"{c.get('status')} {c.get('id')}: {c.get('errorMessage') or c.get('description')}"
        for c in checks
        if c.get("status") in {"FAILURE", "WARNING"}
    ]


def passes_only_by_unknown_tool(checks: list[dict[str, Any]]) -> bool:
    """True when every successful check judged a result that is our unknown_tool error."""
    judged = [c for c in checks if c.get("status") == "SUCCESS"]
    if not judged:
        return False
    for check in judged:
        result = (check.get("details") or {}).get("result") or {}
        meta = result.get("_meta") or {}
        if not (result.get("isError") is True and (meta.get(ERROR_META_KEY) or {}).get("code") == "unknown_tool"):
            return False
    return True


def test_conformance_suite(node_tools: NodeTools, target: CompiledServer, tmp_path: Path) -> None:
    baseline = load_baseline()
    expected_failures = set(baseline["server"])
    false_passes = set(baseline["false_passes"])
    scenarios = server_scenarios(node_tools)
    unknown = (expected_failures | false_passes) - set(scenarios)
    assert not unknown, f"baseline entries the suite does not have (renamed or removed?): {sorted(unknown)}"

    port = free_port()
    log = tmp_path / "server.log"
    out_dir = tmp_path / "results"
    with log.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            target.command("--http", "--port", str(port)),
            cwd=target.cwd,
            env=target.env(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(port, proc, deadline_s=60, log=log)
            run = node_tools.conformance(
                "server",
                "--url",
                f"http://127.0.0.1:{port}/mcp",
                "--suite",
                "all",
                "--expected-failures",
                str(BASELINE),
                "--output-dir",
                str(out_dir),
                timeout=300,
            )
        finally:
            stop(proc)
    results = read_results(out_dir)

    problems = []
    for scenario in scenarios:
        checks = results.get(scenario)
        if checks is None:
            problems.append(f"{scenario}: no result (did the suite crash?)")
            continue
        failures = failed(checks)
        if scenario in expected_failures:
            if not failures:
                problems.append(f"{scenario}: passes now; remove it from the baseline (stale entry)")
        elif scenario in false_passes:
            if failures:
                problems.append(f"{scenario}: listed as a false pass but fails: {failures}")
            elif not passes_only_by_unknown_tool(checks):
                problems.append(
                    f"{scenario}: passes, but no longer because of our unknown_tool error; "
                    "re-classify it in the baseline"
                )
        elif failures:
            problems.append(f"{scenario}: FAILS (not in the baseline): " + "; ".join(failures))
        elif passes_only_by_unknown_tool(checks):
            problems.append(f"{scenario}: passes only because of our unknown_tool error; list it under false_passes")
    assert not problems, (
        f"conformance against {target.module}:\n"
        + "\n".join(problems)
        + f"\n--- suite output ---\n{run.stdout[-5000:]}\n{run.stderr[-3000:]}"
        + f"\n--- server log ---\n{log.read_text(errors='replace')[-3000:]}"
    )
    # The suite's own verdict with the same baseline agrees.
    assert run.returncode == 0, run.describe()
