"""`mcpfactory synth tasks|env` and `mcpfactory import openapi|bfcl`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _model_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--model", required=required, help="litellm model name (openai/<name> with --api-base)")
    p.add_argument("--api-base", help="OpenAI-compatible base URL (vLLM, SGLang, a fake)")
    p.add_argument("--api-key", help="API key (default: the provider's environment variable)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per model request (default 120)")
    p.add_argument("--retries", type=int, default=4, help="retries of 429, 5xx and timeouts (default 4)")
    p.add_argument(
        "--structured",
        choices=["auto", "json_schema", "text"],
        default="auto",
        help="how JSON is asked for: the response format with a text fallback (auto), or text only",
    )
    p.add_argument("--cache", metavar="DIR", help="record model replies here (and reuse them)")
    p.add_argument("--replay", action="store_true", help="with --cache: only replay recorded replies, never call")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `synth` (with `tasks` and `env`) and `import` (with `openapi`)."""
    synth = subparsers.add_parser("synth", help="synthesise environments and tasks (kept only when verified)")
    sub = synth.add_subparsers(dest="synth_command", required=True)

    p = sub.add_parser("tasks", help="synthesise checked tasks from an environment's tool graph and seed")
    p.add_argument("env", help="catalog environment name, or a folder holding a compiled server")
    p.add_argument("--n", type=int, default=10, help="tasks wanted (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-chains", type=int, help="chains sampled at most (default 10 * n)")
    p.add_argument("--max-steps", type=int, default=8, help="calls per task at most (default 8)")
    p.add_argument("--root", help="servers root holding <env>/ (default: the catalog, ./servers)")
    p.add_argument("--out", help="tasks file to append to (default: <root>/<env>/tasks.jsonl)")
    p.add_argument("--dry-run", action="store_true", help="print the tasks instead of appending them")
    p.add_argument("--report", metavar="FILE", help="write the run's report as JSON")
    _model_options(p, required=False)
    p.set_defaults(func=_cmd_tasks)

    p = sub.add_parser("env", help="draft a spec with a model; keep it only when it passes the verifier")
    p.add_argument("description", nargs="?", default="", help="what the environment is about")
    p.add_argument("--name", help="environment name (default: from the description or the OpenAPI title)")
    p.add_argument("--rounds", type=int, default=3, help="draft and repair rounds at most (default 3)")
    p.add_argument("--out-root", help="servers root to install into (default: the catalog, ./servers)")
    p.add_argument("--log-dir", help="run log folder (default: runs/synth-<name>-<UTC time>)")
    p.add_argument(
        "--format",
        choices=["yaml", "json"],
        default="yaml",
        help="ask for YAML in text, or for JSON against EnvSpec's schema (default yaml)",
    )
    p.add_argument("--from-openapi", metavar="FILE", help="start from the skeleton of an OpenAPI document")
    p.add_argument("--check", action="append", metavar="NAME", help="verifier checks to run (default: all)")
    p.add_argument("--budget", type=float, default=60.0, help="verifier time budget per draft (default 60 s)")
    p.add_argument("--force", action="store_true", help="replace an existing environment of that name")
    _model_options(p, required=True)
    p.set_defaults(func=_cmd_env)

    imp = subparsers.add_parser("import", help="import environments from other descriptions")
    isub = imp.add_subparsers(dest="import_command", required=True)
    p = isub.add_parser(
        "openapi",
        help="turn an OpenAPI 3.x or Swagger 2.0 document (or a folder of them) into specs that pass the verifier",
    )
    p.add_argument("file", help="a document (JSON or YAML), or a folder of documents to import in a batch")
    p.add_argument("--name", help="environment name (default: from the document's title)")
    p.add_argument("--out-root", help="servers root to write <name>/ into (default: the catalog, ./servers)")
    p.add_argument("--force", action="store_true", help="replace an existing environment of that name")
    p.add_argument("--stdout", action="store_true", help="print the spec instead of writing it")
    p.add_argument("--report", metavar="FILE", help="write what became of each operation as JSON")
    batch = p.add_argument_group("a folder of documents")
    batch.add_argument("--verify", action="store_true", help="verify each imported environment")
    batch.add_argument("--jobs", type=int, help="documents imported (and verified) at once (default: one per CPU)")
    batch.add_argument("--budget", type=float, default=60.0, help="verifier time budget per environment (default 60 s)")
    batch.add_argument(
        "--start-bound", type=float, default=30.0, help="seconds a server may take to start when verified (default 30)"
    )
    batch.add_argument("--timeout", type=float, default=300.0, help="seconds one document's import may take")
    batch.add_argument("--limit", type=int, help="import only the first N documents (by name)")
    p.set_defaults(func=_cmd_import_openapi)
    p = isub.add_parser(
        "bfcl",
        help="write BFCL's multi-turn tasks (from an installed bfcl-eval) as tasks of the bfcl_* environments",
        description="Read the multi-turn categories of an installed bfcl-eval and write OUT/<category>.jsonl "
        "(run them with: mcpfactory rollout --tasks OUT) and OUT/tool-descriptions.json (BFCL's wording of the "
        "tools, for rollout --tool-descriptions). See docs/bfcl.md.",
    )
    p.add_argument(
        "--category",
        choices=["base", "miss_func", "miss_param", "long_context", "all"],
        default="all",
        help="which category to write (default: all four)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    p.add_argument("--catalog", help="the catalog holding the bfcl_* servers (default: ./servers)")
    p.add_argument(
        "--any-version", action="store_true", help="read a bfcl-eval release other than the one the envs match"
    )
    p.set_defaults(func=_cmd_import_bfcl)


def _model(args: argparse.Namespace) -> Any:
    from mcpfactory.synth.model import Model, ModelConfig

    if not args.model:
        return None
    if args.replay and not args.cache:
        raise SystemExit("--replay needs --cache DIR")
    return Model(
        ModelConfig(
            model=args.model,
            api_base=args.api_base,
            api_key=args.api_key,
            temperature=args.temperature,
            timeout_s=args.timeout,
            max_retries=args.retries,
            structured=args.structured,
            cache_dir=Path(args.cache) if args.cache else None,
            cache_mode="replay" if args.replay else "record",
        )
    )


def _root(value: str | None) -> Path:
    from mcpfactory.catalog import catalog_root

    return Path(value) if value else catalog_root()


def _cmd_tasks(args: argparse.Namespace) -> int:
    import anyio

    from mcpfactory.runtime import UnknownEnvironment
    from mcpfactory.synth.tasks import append_tasks, read_tasks, synthesize_tasks

    given = Path(args.env)
    env_dir = given if (given / "server.py").exists() else _root(args.root) / args.env
    if not (env_dir / "server.py").exists():
        raise UnknownEnvironment(args.env, f"{env_dir} (no compiled server)")
    out = Path(args.out) if args.out else env_dir / "tasks.jsonl"
    existing = read_tasks(out)

    async def run() -> Any:
        return await synthesize_tasks(
            env_dir,
            n=args.n,
            seed=args.seed,
            max_chains=args.max_chains,
            model=_model(args),
            existing=existing,
            max_steps=args.max_steps,
        )

    report = anyio.run(run)
    summary = report.to_json()
    if args.report:
        Path(args.report).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.dry_run:
        for task in report.tasks:
            print(json.dumps(task, ensure_ascii=False))
    else:
        append_tasks(out, report.tasks)
    print(
        f"{report.env}: {len(report.tasks)} task(s) from {report.chains} chain(s) in {report.seconds:.2f} s"
        f" ({summary['difficulty']}; rejected {summary['rejected']}, duplicates {report.duplicates})"
        + ("" if args.dry_run else f" -> {out}"),
        file=sys.stderr,
    )
    return 0 if report.tasks or args.n == 0 else 1


def _slug(text: str) -> str:
    import re

    words = re.findall(r"[a-z0-9]+", text.lower())
    name = "_".join(words[:3]) or "env"
    return name if name[0].isalpha() else f"env_{name}"


def _cmd_env(args: argparse.Namespace) -> int:
    import anyio

    from mcpfactory.synth.env import synthesize_env

    skeleton = None
    description = args.description
    name = args.name
    if args.from_openapi:
        from mcpfactory.openapi import import_openapi

        imported = anyio.run(lambda: import_openapi(Path(args.from_openapi), name=name))
        skeleton, name = imported.yaml, imported.name
        description = f"{description or imported.description}\n\n{imported.report.for_model()}"
    if not description:
        raise SystemExit("mcpfactory synth env: give a DESCRIPTION or --from-openapi FILE")
    name = name or _slug(description)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = Path(args.log_dir) if args.log_dir else Path("runs") / f"synth-{name}-{stamp}"
    model = _model(args)

    async def run() -> Any:
        return await synthesize_env(
            description,
            name=name,
            model=model,
            out_root=_root(args.out_root),
            rounds=args.rounds,
            run_dir=run_dir,
            fmt=args.format,
            skeleton=skeleton,
            checks=args.check,
            budget=args.budget,
            force=args.force,
        )

    try:
        result = anyio.run(run)
    except FileExistsError as exc:
        print(f"mcpfactory synth env: {exc}", file=sys.stderr)
        return 1
    print(f"{result.name}: passed in round {result.rounds} -> {result.path} (log: {result.run_dir})")
    print(json.dumps(result.usage), file=sys.stderr)
    return 0


def _cmd_import_openapi(args: argparse.Namespace) -> int:
    import anyio

    from mcpfactory.openapi import import_openapi, write_environment

    source = Path(args.file)
    if source.is_dir():
        return _import_folder(args, source)
    if args.verify or args.jobs or args.limit:
        raise SystemExit("mcpfactory import openapi: --verify, --jobs and --limit apply to a folder of documents")
    imported = anyio.run(lambda: import_openapi(source, name=args.name))
    if args.report:
        imported.report.write(Path(args.report))
    if args.stdout:
        print(imported.yaml, end="")
        print(f"{imported.name}: {imported.report.summary()}", file=sys.stderr)
        return 0
    try:
        path = write_environment(imported, _root(args.out_root), force=args.force)
    except FileExistsError as exc:
        print(f"mcpfactory import openapi: {exc}", file=sys.stderr)
        return 1
    print(f"{imported.name}: {len(imported.tools)} tool(s), {len(imported.collections)} collection(s) -> {path}")
    print(f"  {imported.report.summary()}")
    for operation in imported.report.left_out:
        print(f"  left out: {operation.method} {operation.path}: {operation.reason}")
    return 0


def _cmd_import_bfcl(args: argparse.Namespace) -> int:
    from mcpfactory.bfcl import CATEGORIES, BFCLSource, import_bfcl, tool_descriptions

    source = BFCLSource(any_version=args.any_version)
    out = Path(args.out)
    categories = CATEGORIES if args.category == "all" else (args.category,)
    counts = import_bfcl(out, categories, source=source, root=Path(args.catalog).resolve() if args.catalog else None)
    descriptions = out / "tool-descriptions.json"
    descriptions.write_text(
        json.dumps(tool_descriptions(source), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for category, count in counts.items():
        print(f"{out / f'{category}.jsonl'}: {count} task(s)")
    print(f"{descriptions}: BFCL's wording of the tools (rollout --tool-descriptions {descriptions})")
    print(f"{sum(counts.values())} task(s) from bfcl-eval {source.version}; run: mcpfactory rollout --tasks {out}")
    return 0


def _import_folder(args: argparse.Namespace, folder: Path) -> int:
    from mcpfactory.openapi._batch import TABLE, import_folder

    if args.out_root is None:
        raise SystemExit("mcpfactory import openapi: a folder needs --out-root (imports are not added to the catalog)")
    out_root = Path(args.out_root)
    result = import_folder(
        folder,
        out_root,
        verify=args.verify,
        jobs=args.jobs,
        budget=args.budget,
        start_bound=args.start_bound,
        timeout=args.timeout,
        limit=args.limit,
        progress=sys.stderr,
    )
    if result.resumed:
        print(f"resumed: {result.resumed} document(s) already done in {out_root}", file=sys.stderr)
    print(result.summary())
    print(f"table: {out_root / TABLE}")
    return 0 if result.imported else 1
