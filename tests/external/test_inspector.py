"""The MCP Inspector CLI, a client nobody here wrote, against every compiled server over stdio.

For each compiled catalog server (servers/<env>/server.py) and each fixture spec
under tests/external/fixtures (compiled into a temporary folder), in both
protocol eras the Inspector speaks (legacy: the 2025-11-25 handshake; modern:
2026-era, sessionless):

- `tools/list --strict`: the tools are exactly the spec's, and the Inspector's
  schema portability lint finds no error (its `--strict` exit code 6) and no
  warning except `untyped-schema`, which a spec's `any` type legitimately gives;
- `tools/call` of the spec's first example that expects a result: the call
  succeeds, `structuredContent` is the example's result (wrapped as
  `{"result": ...}` when not an object) and the text block holds the same value.
  The Inspector itself validates `structuredContent` against the tool's
  `outputSchema` and fails the call if it does not conform;
- `tools/call` of the spec's first example that expects a domain error: an
  `isError` result with a message and the error code in `_meta` (the
  conformance suite's tools-call-error scenario cannot check this, see
  conformance-baseline.yml).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcpfactory.runtime import CONTROL_TOOLS, ERROR_META_KEY, python_text
from mcpfactory.spec import load_spec
from tests.external.node_clients import (
    CompiledServer,
    Completed,
    NodeTools,
    catalog_server,
    catalog_servers,
    fixture_specs,
)

ERAS = ["legacy", "modern"]
# Lint rules whose warnings are allowed: `any` in a spec is `{}` in JSON Schema on purpose.
ALLOWED_WARNINGS = {"untyped-schema"}
ERROR_META_KEY = ERROR_META_KEY

SERVERS = [pytest.param(("catalog", env), id=env) for env in catalog_servers()] + [
    pytest.param(("fixture", name), id=f"fixture-{name}") for name in fixture_specs()
]


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> CompiledServer:
    kind, name = request.param
    if kind == "catalog":
        return catalog_server(name)
    compiled: dict[str, CompiledServer] = request.getfixturevalue("compiled_fixtures")
    return compiled[name]


def inspect(node_tools: NodeTools, server: CompiledServer, era: str, *args: str) -> Completed:
    return node_tools.inspector(
        "--protocol-era",
        era,
        "--format",
        "json",
        "--connect-timeout",
        "30000",
        "--cwd",
        str(server.cwd),
        *args,
        "--",
        *server.command(),
        timeout=90,
    )


def envelope(result: Completed) -> dict[str, Any]:
    try:
        parsed = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the Inspector did not print one JSON object\n{result.describe()}", pytrace=False)
    assert isinstance(parsed, dict), result.describe()
    return parsed


@pytest.mark.parametrize("era", ERAS)
def test_tools_list_strict(node_tools: NodeTools, server: CompiledServer, era: str) -> None:
    result = inspect(node_tools, server, era, "--method", "tools/list", "--strict")
    assert result.returncode == 0, f"tools/list --strict failed (6 = schema portability errors)\n{result.describe()}"
    out = envelope(result)

    tools = out["result"]["tools"]
    names = [tool["name"] for tool in tools]
    declared = list(load_spec(server.spec_path).spec.tools)
    assert sorted(names) == sorted(declared), f"listed {names}, the spec declares {declared}"
    assert not set(CONTROL_TOOLS) & set(names), "the control plane must be invisible to a plain client"
    for tool in tools:
        assert tool.get("description"), f"{tool['name']} has no description"
        assert tool["inputSchema"].get("type") == "object", tool["name"]
        assert tool.get("outputSchema", {}).get("type") == "object", tool["name"]

    problems = [
        f"{finding['severity']}: {entry['toolName']}: {finding.get('rule', '?')} at "
        f"{finding.get('schema')}{finding.get('path')}: {finding.get('issue')}"
        for entry in out.get("schemaFindings", [])
        for finding in entry["findings"]
        if finding["severity"] == "error" or finding.get("rule") not in ALLOWED_WARNINGS
    ]
    assert not problems, "schema portability findings:\n" + "\n".join(problems)


def renders_as_python(server: CompiledServer, tool: str) -> bool:
    """Whether the tool's text block is what a Python harness would print (`render: python`), not JSON."""
    spec = load_spec(server.spec_path).spec
    return (spec.tools[tool].render or spec.render) == "python"


def first_example(server: CompiledServer, *, error: bool) -> tuple[str, dict[str, Any], Any] | None:
    """The spec's first example (needing no earlier calls) that expects an error or a result: (tool, args, expected)."""
    spec = load_spec(server.spec_path).spec
    for tool_name, tool in spec.tools.items():
        for example in tool.examples:
            if (example.error is not None) == error and not example.before:
                return tool_name, example.args, example.error if error else example.returns
    return None


def call(node_tools: NodeTools, server: CompiledServer, era: str, tool: str, args: dict[str, Any]) -> Completed:
    return inspect(
        node_tools, server, era, "--method", "tools/call", "--tool-name", tool, "--tool-args-json", json.dumps(args)
    )


@pytest.mark.parametrize("era", ERAS)
def test_tools_call_first_example(node_tools: NodeTools, server: CompiledServer, era: str) -> None:
    example = first_example(server, error=False)
    if example is None:
        pytest.fail(f"{server.name}: no tool example expects a result without earlier calls", pytrace=False)
    tool, args, expected = example
    result = call(node_tools, server, era, tool, args)
    assert result.returncode == 0, f"tools/call {tool} {args} failed (5 = isError)\n{result.describe()}"
    out = envelope(result)["result"]

    assert not out.get("isError"), out
    structured = out.get("structuredContent")
    if isinstance(expected, dict) and structured == expected:
        pass
    else:
        assert structured == {"result": expected}, f"{tool} {args}: got {structured!r}, the spec expects {expected!r}"
    texts = [block for block in out["content"] if block.get("type") == "text"]
    assert len(texts) == 1, out["content"]
    text = texts[0]["text"]
    if renders_as_python(server, tool):
        assert text == python_text(expected)
    else:
        assert (text if isinstance(expected, str) else json.loads(text)) == expected, text


@pytest.mark.parametrize("era", ERAS)
def test_tools_call_error_example(node_tools: NodeTools, server: CompiledServer, era: str) -> None:
    example = first_example(server, error=True)
    if example is None:
        pytest.skip(f"{server.name}: no tool example expects a domain error")
    tool, args, code = example
    result = call(node_tools, server, era, tool, args)
    assert result.returncode == 5, f"tools/call {tool} {args} should end in isError (exit 5)\n{result.describe()}"
    out = envelope(result)["result"]
    assert out.get("isError") is True, out
    assert out.get("_meta", {}).get(ERROR_META_KEY) == {"code": code}, out
    texts = [block.get("text") for block in out["content"] if block.get("type") == "text"]
    assert len(texts) == 1 and texts[0], out["content"]
