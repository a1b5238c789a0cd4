"""static: the spec loads, its bodies pass the restrictions, its examples are well-typed, its server is current."""

from __future__ import annotations

import shutil
from typing import Any

import pydantic

from mcpfactory.catalog import catalog_root
from mcpfactory.compiler import check_spec, compile_spec
from mcpfactory.errors import MCPFactoryError, SpecError
from mcpfactory.spec import LoadedSpec, load_spec
from mcpfactory.verify.checks._base import CheckContext, Failed, Passed

__all__ = ["spec_is_sound"]

_GENERATED = ("server.py", "__init__.py", "__main__.py")
_COPIED = (*_GENERATED, "spec.yaml", "tasks.jsonl")


async def spec_is_sound(ctx: CheckContext) -> Passed:
    """Prove the spec loads (types, bodies, seeds, examples) and that the server verified is what it generates.

    A catalog environment is verified in place: its committed server must match
    its spec. A spec elsewhere is copied to a scratch folder and compiled there
    unless a server sits beside it, which is then checked and used as committed.
    """
    try:
        loaded = load_spec(ctx.spec_path)
    except SpecError as exc:
        raise Failed("the spec does not load", [str(issue) for issue in exc.issues]) from None
    ctx.loaded = loaded
    problems = _before_call_problems(loaded)
    committed = (ctx.spec_path.parent / "server.py").exists()
    if committed:
        try:
            drifted = check_spec(ctx.spec_path)
        except MCPFactoryError as exc:
            drifted = []
            problems.append(f"the spec does not compile: {exc}")
        problems += [f"{path.name} differs from what the spec generates (run: mcpfactory compile)" for path in drifted]
    if ctx.catalog_env is not None:
        if not committed:
            raise Failed("the environment is not compiled", ["run: mcpfactory compile " + str(ctx.spec_path)])
        ctx.package = f"servers.{ctx.catalog_env}"
        ctx.import_root = catalog_root().parent
    else:
        _prepare_copy(ctx, loaded, compile_it=not committed)
    how = "committed server matches it" if committed else "compiled into a scratch package"
    if problems:
        raise Failed("the spec has problems", problems)
    tools = len(loaded.spec.tools)
    examples = sum(len(t.examples) for t in loaded.spec.tools.values())
    return Passed(
        f"spec loads ({tools} tools, {examples} examples, {len(loaded.spec.invariants)} invariants); {how}",
        {"tools": tools, "examples": examples, "sha256": loaded.sha256},
    )


def _prepare_copy(ctx: CheckContext, loaded: LoadedSpec, *, compile_it: bool) -> None:
    """Copy the environment folder under a unique importable name and compile it there if needed."""
    package = f"mcpf_verify_{loaded.spec.name}"
    folder = ctx.workdir / package
    source = ctx.spec_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    for name in _COPIED:
        if (source / name).exists():
            shutil.copyfile(source / name, folder / name)
    if ctx.spec_path.name != "spec.yaml":
        shutil.copyfile(ctx.spec_path, folder / "spec.yaml")
    if (source / "data").is_dir():
        shutil.copytree(source / "data", folder / "data", dirs_exist_ok=True)
    if compile_it:
        try:
            compile_spec(folder / "spec.yaml")
        except MCPFactoryError as exc:
            raise Failed("the spec does not compile", [str(exc)]) from None
    ctx.package = package
    ctx.import_root = ctx.workdir


def _before_call_problems(loaded: LoadedSpec) -> list[str]:
    """Type-check the calls examples make first (the loader checks only their tool names)."""
    problems: list[str] = []
    for tool_name, tool in loaded.spec.tools.items():
        for index, example in enumerate(tool.examples):
            for cindex, call in enumerate(example.before):
                where = f"tools.{tool_name}.examples.{index}.before.{cindex}"
                if call.tool not in loaded.params:
                    continue
                problems += [f"{where}: {p}" for p in _argument_problems(loaded, call.tool, call.args)]
    return problems


def _argument_problems(loaded: LoadedSpec, tool: str, arguments: dict[str, Any]) -> list[str]:
    params = {str(getattr(p, "wire_name", p.name)): p for p in loaded.params[tool]}
    problems = [f"unknown argument '{name}' for {tool}" for name in arguments if name not in params]
    for name, param in params.items():
        if name not in arguments:
            if not param.has_default:
                problems.append(f"missing argument '{name}' for {tool}")
            continue
        try:
            loaded.validator(param.type).validate_python(arguments[name], strict=True)
        except pydantic.ValidationError as exc:
            problems.append(f"argument '{name}' of {tool}: {exc.errors(include_url=False)[0]['msg']}")
    return problems
