"""The installed bfcl-eval: BFCL's multi-turn entries, their ground truth and its function docs, read at run time.

Nothing of BFCL's wording is part of mcpfactory: the user turns, the prompt
that announces held-out functions and the function docs are read from the
installed package when a command asks for them. Reading is strict: an entry
that does not have the shape BFCL 2026.3.23 gives it is a `BFCLError` naming
the file, line and field, never a task that runs differently.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import BFCLError

__all__ = ["BFCL_EVAL_VERSION", "CATEGORIES", "CLASS_ENVS", "BFCLSource", "Entry"]

BFCL_EVAL_VERSION = "2026.3.23"
"""The bfcl-eval release the environments were checked against (every base vector and probe)."""

CATEGORIES = ("base", "miss_func", "miss_param", "long_context")
"""BFCL's multi-turn categories, in its order."""

CLASS_ENVS: Mapping[str, str] = {
    "GorillaFileSystem": "bfcl_file_system",
    "MathAPI": "bfcl_math",
    "MessageAPI": "bfcl_message",
    "TicketAPI": "bfcl_ticket",
    "TradingBot": "bfcl_trading",
    "TravelAPI": "bfcl_travel",
    "TwitterAPI": "bfcl_twitter",
    "VehicleControlAPI": "bfcl_vehicle",
}
"""Each class of BFCL's multi-turn suite and the catalog environment that reproduces it."""

INSTALL_HINT = "pip install 'mcpfactory[bfcl]' (or, without its model clients: pip install --no-deps bfcl-eval==2026.3.23 mpmath==1.3.0)"
MAX_LINE = 8 * 1024 * 1024  # bytes; BFCL's longest multi-turn line is under 100 kB


@dataclass(frozen=True, slots=True)
class Entry:
    """One multi-turn test entry of BFCL with its ground truth.

    `turns` holds the user's message of each turn (`""` where BFCL's entry has
    none: the turn that announces held-out functions); `ground_truth` the call
    strings of each turn; `held_out` each held-out function and the turn it is
    offered from (miss_func). `raw` is the entry as BFCL stores it, for BFCL's
    own checker.
    """

    id: str
    category: str
    classes: tuple[str, ...]
    initial_config: Mapping[str, Any]
    turns: tuple[str, ...]
    ground_truth: tuple[tuple[str, ...], ...]
    held_out: Mapping[str, int]
    raw: Mapping[str, Any]

    @property
    def long_context(self) -> bool:
        """Whether BFCL builds the classes' long-context variants (`"long_context" in test_category`)."""
        return "long_context" in self.category


class BFCLSource:
    """The installed bfcl-eval package; raise `BFCLError` when it is missing or of another release.

    `any_version` reads another release anyway (its tasks may then ask for
    behaviour the environments were never checked against).
    """

    def __init__(self, *, any_version: bool = False) -> None:
        found = importlib.util.find_spec("bfcl_eval")
        if found is None or not found.submodule_search_locations:
            raise BFCLError(f"bfcl-eval is not installed; {INSTALL_HINT}")
        self.package = Path(next(iter(found.submodule_search_locations)))
        try:
            self.version = importlib.metadata.version("bfcl-eval")
        except importlib.metadata.PackageNotFoundError:
            raise BFCLError(f"bfcl_eval at {self.package} has no distribution metadata; {INSTALL_HINT}") from None
        if self.version != BFCL_EVAL_VERSION and not any_version:
            raise BFCLError(
                f"bfcl-eval {self.version} is installed, but the environments were checked against "
                f"{BFCL_EVAL_VERSION} (install that release, or pass --any-version to import anyway)"
            )
        self.data = self.package / "data"

    def _constant(self, module: str, name: str) -> Any:
        try:
            return getattr(importlib.import_module(f"bfcl_eval.{module}"), name)
        except (ImportError, AttributeError) as exc:
            raise BFCLError(f"cannot read {name} from bfcl_eval.{module}: {exc}") from None

    @property
    def added_functions_prompt(self) -> str:
        """What BFCL's user says at the turn where held-out functions are added (function-calling models)."""
        text = self._constant("constants.default_prompts", "DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC")
        if not isinstance(text, str) or not text.strip():
            raise BFCLError("bfcl_eval's prompt for added functions is not a non-empty string")
        return text

    @property
    def stateless(self) -> frozenset[str]:
        """The classes BFCL never loads a configuration into (it builds them bare)."""
        names = self._constant("constants.executable_backend_config", "STATELESS_CLASSES")
        if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
            raise BFCLError("bfcl_eval's STATELESS_CLASSES is not a list of class names")
        return frozenset(names)

    def _file(self, folder: Path, category: str) -> Path:
        if category not in CATEGORIES:
            raise BFCLError(f"unknown category {category!r} (one of {', '.join(CATEGORIES)})")
        prefix = self._constant("constants.category_mapping", "VERSION_PREFIX")
        return folder / f"{prefix}_multi_turn_{category}.json"

    def entries(self, category: str) -> list[Entry]:
        """Read a category's entries and ground truth, in BFCL's order."""
        questions = list(_lines(self._file(self.data, category)))
        answers = list(_lines(self._file(self.data / "possible_answer", category)))
        if len(questions) != len(answers):
            raise BFCLError(
                f"{len(questions)} entries but {len(answers)} ground truths", where=str(self._file(self.data, category))
            )
        return [_entry(category, q, a) for q, a in zip(questions, answers, strict=True)]

    def function_docs(self, cls: str) -> list[dict[str, Any]]:
        """BFCL's function docs of one class (name, description, parameters, response), as its harness loads them."""
        files = self._constant("constants.executable_backend_config", "MULTI_TURN_FUNC_DOC_FILE_MAPPING")
        if not isinstance(files, Mapping) or cls not in files:
            raise BFCLError(f"bfcl_eval lists no function docs for {cls}")
        docs = [value for _, value in _lines(self.data / "multi_turn_func_doc" / str(files[cls]))]
        for index, doc in enumerate(docs):
            if not (
                isinstance(doc, dict) and isinstance(doc.get("name"), str) and isinstance(doc.get("description"), str)
            ):
                raise BFCLError("a function doc without a name and a description", where=f"{files[cls]}:{index + 1}")
        return docs


def _lines(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield (`file:line`, value) for each JSON line of a BFCL data file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BFCLError(f"cannot read: {exc.strerror or exc}", where=str(path)) from None
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        if len(line) > MAX_LINE:
            raise BFCLError(f"line longer than {MAX_LINE} bytes", where=where)
        try:
            yield where, json.loads(line)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise BFCLError(f"not JSON: {exc}", where=where) from None


def _strings(value: Any, where: str, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BFCLError(f"{what} is not a list of strings", where=where)
    return tuple(value)


def _entry(category: str, question: tuple[str, Any], answer: tuple[str, Any]) -> Entry:
    where, data = question
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise BFCLError("an entry without an id", where=where)
    entry_id = data["id"]
    where = f"{where} ({entry_id})"
    answer_where, truth = answer
    if not isinstance(truth, dict) or truth.get("id") != entry_id:
        raise BFCLError(f"the ground truth is not {entry_id}'s (ids out of step)", where=answer_where)
    classes = _strings(data.get("involved_classes"), f"{where}.involved_classes", "involved_classes")
    unknown = [cls for cls in classes if cls not in CLASS_ENVS]
    if not classes or unknown or len(set(classes)) != len(classes):
        raise BFCLError(
            f"involved_classes must name distinct classes of the multi-turn suite ({', '.join(CLASS_ENVS)}); got {list(classes)}",
            where=where,
        )
    config = data.get("initial_config", {})
    if not isinstance(config, dict):
        raise BFCLError("initial_config is not an object", where=f"{where}.initial_config")
    turns = _turns(data.get("question"), f"{where}.question")
    ground = truth.get("ground_truth")
    if not isinstance(ground, list) or len(ground) != len(turns):
        raise BFCLError(f"ground_truth is not a list of {len(turns)} turns", where=f"{answer_where} ({entry_id})")
    ground_truth = tuple(
        _strings(calls, f"{answer_where} ({entry_id}).ground_truth[{n}]", "a turn") for n, calls in enumerate(ground)
    )
    held_out = _held_out(data.get("missed_function", {}), turns, f"{where}.missed_function")
    return Entry(entry_id, category, classes, config, turns, ground_truth, held_out, data)


def _turns(question: Any, where: str) -> tuple[str, ...]:
    if not isinstance(question, list) or not question:
        raise BFCLError("question is not a non-empty list of turns", where=where)
    turns: list[str] = []
    for index, messages in enumerate(question):
        if not isinstance(messages, list) or len(messages) > 1:
            raise BFCLError("a turn is not a list of at most one message", where=f"{where}[{index}]")
        if not messages:
            turns.append("")
            continue
        message = messages[0]
        if (
            not isinstance(message, dict)
            or message.get("role") != "user"
            or not isinstance(message.get("content"), str)
        ):
            raise BFCLError("a turn's message is not a user message with text", where=f"{where}[{index}][0]")
        turns.append(message["content"])
    return tuple(turns)


def _held_out(missed: Any, turns: Sequence[str], where: str) -> dict[str, int]:
    if not isinstance(missed, dict):
        raise BFCLError("missed_function is not an object {turn: [function names]}", where=where)
    held: dict[str, int] = {}
    for key, names in missed.items():
        if not (isinstance(key, str) and key.isdigit() and 0 < int(key) < len(turns)):
            raise BFCLError(f"turn {key!r} is not a later turn of the entry", where=where)
        if turns[int(key)]:
            raise BFCLError(f"turn {key} adds functions but also has a user message", where=where)
        for name in _strings(names, f"{where}.{key}", "the held-out functions"):
            held[name] = int(key)
    return held
