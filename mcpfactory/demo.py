"""`mcpfactory demo`: compile the catalog, start each server and exercise it through a real MCP client."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio

from mcpfactory.catalog import catalog_root, env_names
from mcpfactory.compiler import compile_spec
from mcpfactory.connect import connect
from mcpfactory.errors import SpecError
from mcpfactory.spec import load_spec

__all__ = ["run_demo"]


def _short(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _exercise(env: str, say: Callable[[str], None]) -> bool:
    spec = load_spec(catalog_root() / env / "spec.yaml").spec
    ok = True
    async with connect(env, "stdio", control=True) as client:
        say(f"  started `python -m servers.{env}` over stdio: {len(client.output_schemas)} tools")
        for name, tool in spec.tools.items():
            for example in tool.examples[:2]:
                await client.reset()
                for call in example.before:
                    await client.call_tool(call.tool, call.args)
                result = await client.call_tool(name, example.args)
                if example.error is not None:
                    passed = result.is_error and result.error_code == example.error
                    shown = f"refused: {_short(result.text)}"
                else:
                    passed = not result.is_error and result.value == example.returns
                    shown = _short(result.text)
                ok &= passed
                mark = "ok " if passed else "FAIL"
                say(f"    [{mark}] {name}({_short(example.args, 60)}) -> {shown}")
        digest = await client.state_hash()
        say(f"  state sha256 after the last example: {digest[:16]}…")
    return ok


def run_demo(say: Callable[[str], None]) -> int:
    """Compile every spec, then call every tool example over stdio; return 0 if all behaved."""
    names = env_names()
    failures = 0
    for env in names:
        try:
            result = compile_spec(catalog_root() / env / "spec.yaml")
        except SpecError as exc:
            say(f"{env}: spec does not load\n{exc}")
            failures += 1
            continue
        say(f"{env}: compiled ({'wrote ' + str(len(result.written)) + ' files' if result.written else 'up to date'})")
        if not anyio.run(_exercise, env, say):
            failures += 1
    say(f"{len(names) - failures} of {len(names)} environments behaved as their specs say")
    try:
        from harness.cli import run_demo_rollouts
    except ImportError:  # the harness is part of the project; only a partial install lacks it
        return 1 if failures else 0
    say("\nrollouts over every task of the catalog, in memory: the oracle must score 1.0")
    if run_demo_rollouts(say) != 0:
        failures += 1
    return 1 if failures else 0
