"""The `mcpfactory` command line.

Each subcommand imports what it needs when it runs, so `mcpfactory --help`
and the commands that never call a model do not pay for litellm's import.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main"]


def _specs(paths: Sequence[str]) -> list[Path]:
    from mcpfactory.catalog import catalog_root

    if paths:
        return [Path(p) / "spec.yaml" if Path(p).is_dir() else Path(p) for p in paths]
    return sorted(catalog_root().glob("*/spec.yaml"))


def _cmd_compile(args: argparse.Namespace) -> int:
    from mcpfactory.compiler import check_spec, compile_spec, compile_standalone
    from mcpfactory.errors import SpecError

    if args.standalone:
        if args.check or len(args.specs) != 1 or not args.out:
            raise SystemExit("mcpfactory compile: --standalone takes one SPEC and --out DIR (and no --check)")
        try:
            package = compile_standalone(_specs(args.specs)[0], args.out)
        except SpecError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"wrote {package} (run: cd {package.parent} && python -m {package.name})")
        return 0
    failed = 0
    drifted: list[Path] = []
    for spec in _specs(args.specs):
        try:
            if args.check:
                drifted.extend(check_spec(spec))
            else:
                result = compile_spec(spec)
                changed = len(result.written) + len(result.removed)
                state = f"wrote {len(result.written)} file(s)" if changed else "up to date"
                if result.removed:
                    state += f", removed {', '.join(p.name for p in result.removed)}"
                print(f"{spec}: {state}")
        except SpecError as exc:
            failed += 1
            print(exc, file=sys.stderr)
    if drifted:
        print("generated files are out of date with their specs (run: mcpfactory compile):", file=sys.stderr)
        for path in drifted:
            print(f"  {path}", file=sys.stderr)
    if failed:
        return 2  # a spec that does not load is bad input, answered as argparse answers bad arguments
    if drifted:
        return 1
    if args.check:
        print(f"{len(_specs(args.specs))} server(s) match their specs")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from mcpfactory.catalog import server_module
    from mcpfactory.runtime._main import serve_arguments

    serve_arguments(server_module(args.env).env, args)
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    import anyio

    from mcpfactory.replay import read_calls, replay

    lines = read_calls(Path(args.file))

    async def run() -> None:
        async for out in replay(args.env, lines, args.transport):
            print(json.dumps(out, ensure_ascii=False), flush=True)

    anyio.run(run)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from mcpfactory.demo import run_demo

    return run_demo(print)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    from mcpfactory.runtime._main import server_arguments

    parser = argparse.ArgumentParser(prog="mcpfactory", description="Compile, verify and run MCP tool environments.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compile", help="compile specs into servers (all of servers/ by default)")
    p.add_argument("specs", nargs="*", help="spec files or environment folders")
    p.add_argument("--check", action="store_true", help="fail if a committed server differs from its spec")
    p.add_argument(
        "--standalone", action="store_true", help="write a copy-anywhere package that vendors the runtime (with --out)"
    )
    p.add_argument("--out", metavar="DIR", help="where --standalone writes DIR/<env>/")
    p.set_defaults(func=_cmd_compile)

    p = sub.add_parser("serve", help="run an environment's server (stdio by default)")
    p.add_argument("env")
    server_arguments(p)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("replay", help="replay JSONL call lists on fresh sessions; print results and state hashes")
    p.add_argument("env")
    p.add_argument("file")
    p.add_argument("--transport", choices=["memory", "stdio"], default="memory")
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("demo", help="compile the catalog and exercise every server through a real MCP client")
    p.set_defaults(func=_cmd_demo)

    for register in _plugins():
        register(sub)

    args = parser.parse_args(argv)
    from mcpfactory.errors import (
        MCPFactoryError,
        ReplayError,
        SpecError,
        TaskFileError,
        UnknownEnvironment,
        UsageError,
    )

    try:
        return int(args.func(args))
    except MCPFactoryError as exc:
        # Bad input (a file, a name, an option) exits 2, like argparse; anything else that failed exits 1.
        bad_input = (SpecError, TaskFileError, ReplayError, UnknownEnvironment, UsageError)
        print(f"mcpfactory {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, bad_input) else 1


def _plugins() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Subcommands contributed by other parts of the project (verify, rollout, report, synth, list)."""
    registers = []
    for module_name in ("mcpfactory.verify.cli", "mcpfactory.synth.cli", "mcpfactory.list_cli", "harness.cli"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        registers.append(module.register)
    return registers


if __name__ == "__main__":
    sys.exit(main())
