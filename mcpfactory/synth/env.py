"""Synthesise an environment: a model drafts a spec, the loader, compiler and verifier judge it, and
their errors go back to the model for repair, round after round.

Each round's draft is written to a scratch folder and checked there (load,
compile, `verify_env`); only a draft that passes every check is moved into
the servers root and compiled in place, so a failed synthesis leaves nothing
behind there. Every round is logged under the run folder: the messages sent,
the reply, the draft and the problems found.

`--from-openapi` starts from the skeleton `mcpfactory import openapi` writes
(which passes on its own) and asks the model to enrich it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

import mcpfactory
from mcpfactory.compiler import compile_spec
from mcpfactory.errors import CompileError, SpecError
from mcpfactory.spec import EnvSpec, load_spec
from mcpfactory.synth._errors import DraftRejected, OutputError
from mcpfactory.synth._extract import extract_block
from mcpfactory.synth._prompts import render
from mcpfactory.synth._yaml import dump_yaml
from mcpfactory.synth.model import Message, Model

__all__ = ["DraftCheck", "EnvResult", "check_draft", "synthesize_env"]

log = logging.getLogger("mcpfactory.synth.env")

Format = Literal["yaml", "json"]
_YAML_REPLY = "Reply with the whole corrected spec in one ```yaml fenced block and nothing else."
_JSON_REPLY = "Reply with the whole corrected spec as one JSON object that validates against the schema."
_MAX_PROBLEMS = 30


@dataclass(frozen=True, slots=True)
class DraftCheck:
    """What checking one draft found: `problems` (empty when it passed) and the verifier's report."""

    problems: list[str]
    stage: Literal["reply", "load", "compile", "verify", "passed"]
    report: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.stage == "passed"


@dataclass
class EnvResult:
    """A synthesis that passed: where the environment now lives, and how it got there."""

    name: str
    path: Path
    rounds: int
    run_dir: Path
    usage: dict[str, Any]
    report: dict[str, Any] | None = None
    history: list[str] = field(default_factory=list)  # the stage each round reached


def spec_guide() -> str:
    """docs/spec.md, which the model gets as the format's reference; empty (with a warning) if not installed."""
    path = Path(mcpfactory.__file__).resolve().parent.parent / "docs" / "spec.md"
    if not path.exists():
        log.warning("docs/spec.md not found beside the package; the model gets the JSON Schema only")
        return "(see the JSON Schema below)"
    return path.read_text(encoding="utf-8")


def _quote(text_lines: list[str], line: int) -> str:
    if 1 <= line <= len(text_lines):
        return f"\n    {line:>4} | {text_lines[line - 1]}"
    return ""


def _located(exc: SpecError, spec_text: str) -> list[str]:
    lines = spec_text.splitlines()
    out = []
    for issue in exc.issues[:_MAX_PROBLEMS]:
        where = f"{issue.path}: " if issue.path else ""
        hint = f" ({issue.hint})" if issue.hint else ""
        out.append(f"spec.yaml:{issue.line}:{issue.col}: {where}{issue.message}{hint}{_quote(lines, issue.line)}")
    if len(exc.issues) > _MAX_PROBLEMS:
        out.append(f"... and {len(exc.issues) - _MAX_PROBLEMS} more problems")
    return out


VerifyFn = Callable[[Path], dict[str, Any]]


def _verify(checks: Sequence[str] | None, budget: float) -> VerifyFn:
    def run(spec: Path) -> dict[str, Any]:
        from mcpfactory.verify import verify_env

        return verify_env(spec, checks=checks, budget=budget).to_json()

    return run


async def check_draft(
    folder: Path, name: str, *, checks: Sequence[str] | None = None, budget: float = 60.0
) -> DraftCheck:
    """Load, compile and verify the draft `folder/spec.yaml` where it lies; never raises for what it finds.

    `checks` picks the verifier's checks (all by default).
    """
    spec_path = folder / "spec.yaml"
    text = spec_path.read_text(encoding="utf-8")
    try:
        loaded = load_spec(spec_path)
    except SpecError as exc:
        return DraftCheck(_located(exc, text), "load")
    if loaded.name != name:
        line = next((i for i, t in enumerate(text.splitlines(), 1) if t.startswith("name:")), 1)
        return DraftCheck([f"spec.yaml:{line}:1: name: must be {name!r}, not {loaded.name!r}"], "load")
    try:
        compile_spec(spec_path)
    except CompileError as exc:
        return DraftCheck([f"spec.yaml: the spec loads but does not compile: {exc}"], "compile")
    report = await anyio.to_thread.run_sync(_verify(checks, budget), spec_path)
    problems = []
    locate = _Locator(text, set(loaded.spec.tools))
    for check in report["checks"]:
        if check["status"] != "failed":
            continue
        problems.append(f"verifier check '{check['name']}' failed: {check['summary']}")
        problems.extend(f"    - {locate(line)}" for line in check["evidence"][:8])
    return DraftCheck(problems, "verify" if problems else "passed", report)


class _Locator:
    """Prefix a verifier finding with the spec line it is about: its field path, or the body of the tool it calls."""

    _PATH = re.compile(r"^((?:tools|collections|types|invariants)(?:\.[A-Za-z0-9_]+)+)")
    _CALL = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\(")
    _SNIPPET = re.compile(r"server\.py:\d+ `([^`]+)`")

    def __init__(self, text: str, tools: set[str]) -> None:
        self.lines = text.splitlines()
        self.tools = tools
        try:
            self.root: Any = YAML().load(text)
        except YAMLError:
            self.root = None

    def position(self, parts: Sequence[str]) -> tuple[int, int] | None:
        node, found = self.root, None
        for part in parts:
            if isinstance(node, CommentedMap) and part in node:
                found = node.lc.value(part)
                node = node[part]
            elif isinstance(node, CommentedSeq) and part.isdigit() and int(part) < len(node):
                found = node.lc.item(int(part))
                node = node[int(part)]
            else:
                break
        return (found[0] + 1, found[1] + 1) if found else None

    def __call__(self, finding: str) -> str:
        path = self._PATH.match(finding)
        call = self._CALL.match(finding)
        parts: list[str] | None = None
        if path:
            parts = path.group(1).split(".")
        elif call and call.group(1) in self.tools:
            parts = ["tools", call.group(1), "body"]
        where = self.position(parts) if parts else None
        snippet = self._SNIPPET.search(finding)
        if snippet and where is not None:
            # A fault names the generated line; the same code sits in the spec's body, below its key.
            for number in range(where[0], len(self.lines) + 1):
                text = self.lines[number - 1]
                if text.strip() == snippet.group(1).strip():
                    where = (number, len(text) - len(text.lstrip()) + 1)
                    break
        if where is None:
            return finding
        line, col = where
        return f"spec.yaml:{line}:{col}: {finding}{_quote(self.lines, line)}"


class _RunLog:
    """One folder per run, one subfolder per round: messages, reply, draft, problems."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def round(self, number: int, messages: Sequence[Message], reply: str, transcript: Sequence[Any]) -> Path:
        folder = self.directory / f"round-{number:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "messages.json").write_text(
            json.dumps([dict(m) for m in messages], indent=1, ensure_ascii=False), encoding="utf-8"
        )
        (folder / "reply.txt").write_text(reply, encoding="utf-8")
        (folder / "transcript.json").write_text(
            json.dumps(list(transcript), indent=1, ensure_ascii=False), encoding="utf-8"
        )
        return folder

    def result(self, folder: Path, check: DraftCheck) -> None:
        (folder / "problems.txt").write_text("\n".join(check.problems) + ("\n" if check.problems else ""), "utf-8")
        if check.report is not None:
            (folder / "verify.json").write_text(json.dumps(check.report, indent=1, ensure_ascii=False), "utf-8")
        (folder / "stage.txt").write_text(check.stage + "\n", encoding="utf-8")

    def summary(self, data: dict[str, Any]) -> None:
        (self.directory / "summary.json").write_text(json.dumps(data, indent=1, ensure_ascii=False), "utf-8")


def _draft_text(reply_text: str, data: Any, fmt: Format) -> str | None:
    if fmt == "json":
        return dump_yaml(data) if isinstance(data, dict) else None
    block = extract_block(reply_text, ("yaml", "yml"))
    text = block if block is not None else reply_text
    if not text.strip():
        return None
    if block is None:
        # Unfenced: a spec only if the whole reply reads as a YAML mapping (not a sentence of refusal).
        try:
            parsed = YAML(typ="safe", pure=True).load(text)
        except YAMLError:
            return None
        if not isinstance(parsed, dict):
            return None
    return text if text.endswith("\n") else text + "\n"


def _install(draft: Path, target: Path) -> None:
    """Move a passing draft into the servers root and compile it there; leave nothing if that fails."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        shutil.copy2(draft / "spec.yaml", staging / "spec.yaml")
        if (draft / "data").is_dir():
            shutil.copytree(draft / "data", staging / "data")
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        compile_spec(target / "spec.yaml")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


async def synthesize_env(
    description: str,
    *,
    name: str,
    model: Model,
    out_root: Path,
    rounds: int = 3,
    run_dir: Path,
    fmt: Format = "yaml",
    skeleton: str | None = None,
    checks: Sequence[str] | None = None,
    budget: float = 60.0,
    force: bool = False,
) -> EnvResult:
    """Draft, check and repair a spec for up to `rounds` rounds; install the first one that passes.

    Returns where it was installed (`out_root/name`). Raise `DraftRejected`
    when no round passes (nothing is written under `out_root`), `ModelError`
    when the model cannot be reached, `FileExistsError` when the target exists
    and `force` is not set.
    """
    target = out_root / name
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (pass force to replace it)")
    runlog = _RunLog(run_dir)
    schema = EnvSpec.model_json_schema()
    system = render("env_system", spec_doc=spec_guide(), schema=json.dumps(schema, indent=1))
    if skeleton is not None:
        first = render("env_enrich", skeleton=skeleton.rstrip(), name=name, description=description.strip())
    else:
        first = render("env_draft_json" if fmt == "json" else "env_draft", description=description.strip(), name=name)
    messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": first}]
    history: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mcpfactory-synth-") as scratch:
        for number in range(1, rounds + 1):
            draft_dir = Path(scratch) / f"round-{number:02d}" / name
            draft_dir.mkdir(parents=True)
            reply_text, data, transcript, check = "", None, [], None
            try:
                if fmt == "json":
                    reply = await model.json(messages, schema, name="env_spec")
                    data = reply.data
                else:
                    reply = await model.chat(messages)
                reply_text, transcript = reply.text, list(reply.transcript)
            except OutputError as exc:
                reply_text = exc.text
                check = DraftCheck([f"the reply holds no spec that validates: {p}" for p in exc.problems], "reply")
            text = _draft_text(reply_text, data, fmt) if check is None else None
            log_folder = runlog.round(number, messages, reply_text, transcript)
            if check is None and text is None:
                check = DraftCheck(["the reply holds no spec: send it in one ```yaml fenced block"], "reply")
            if check is None and text is not None:
                (draft_dir / "spec.yaml").write_text(text, encoding="utf-8")
                (log_folder / "spec.yaml").write_text(text, encoding="utf-8")
                check = await check_draft(draft_dir, name, checks=checks, budget=budget)
            assert check is not None
            runlog.result(log_folder, check)
            history.append(check.stage)
            log.info("round %d: %s (%d problems)", number, check.stage, len(check.problems))
            if check.passed:
                if target.exists():
                    shutil.rmtree(target)
                _install(draft_dir, target)
                result = EnvResult(name, target, number, run_dir, model.usage.to_json(), check.report, history)
                runlog.summary({"passed": True, "rounds": number, "stages": history, "usage": result.usage})
                return result
            problems = "\n".join(check.problems)
            messages = [
                messages[0],
                messages[1],
                {"role": "assistant", "content": reply_text or "(empty reply)"},
                {
                    "role": "user",
                    "content": render(
                        "env_repair", problems=problems, reply_format=_JSON_REPLY if fmt == "json" else _YAML_REPLY
                    ),
                },
            ]
    runlog.summary({"passed": False, "rounds": rounds, "stages": history, "usage": model.usage.to_json()})
    raise DraftRejected(
        f"no draft of {name!r} passed in {rounds} round(s) (stages: {', '.join(history)}); see {run_dir}",
        rounds=rounds,
        run_dir=run_dir,
    )
