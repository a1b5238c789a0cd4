"""The red-team corpus: every hostile spec or input under cases/ meets the outcome its header names.

A case is refused at load with the located issue it expects (and `mcpfactory
compile` answers it with located lines only and exit status 2), or it loads and
its server compiles, imports and builds. See README.md for the header format.
"""

from __future__ import annotations

import importlib
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mcpfactory.cli import main
from mcpfactory.compiler import compile_spec
from mcpfactory.errors import SpecError, SpecIssue
from mcpfactory.spec import _input, load_spec
from mcpfactory.spec._input import MAX_SPEC_BYTES, InputProblem, read_text

CASES = Path(__file__).parent / "cases"
_HEADER = re.compile(rb"^# (attack|expect|repeat): ?(.*)$")
_CONTINUATION = re.compile(rb"^#   (.*)$")
_LOCATED = re.compile(r"^[^\s:][^:]*:\d+:\d+: \S")


@dataclass(frozen=True)
class Case:
    """One hostile input: what it attacks, the outcomes that count as defended, how to build the file."""

    name: str
    path: Path
    attack: str
    expect: tuple[str, ...]
    repeat: int = 1

    @property
    def refused(self) -> bool:
        return self.expect[0].startswith("refused ")

    def companions(self) -> list[Path]:
        """Other files of the case (a seed file named by the spec), which sit beside it with its stem."""
        return sorted(p for p in self.path.parent.glob(f"{self.name}.*") if p != self.path)

    def materialize(self, folder: Path) -> Path:
        """Write the hostile spec as folder/spec.yaml, with its companions beside it."""
        folder.mkdir(parents=True, exist_ok=True)
        raw = self.path.read_bytes()
        if self.repeat > 1:
            header_end = _header_length(raw)
            raw = raw[:header_end] + raw[header_end:] * self.repeat
        (folder / "spec.yaml").write_bytes(raw)
        for companion in self.companions():
            shutil.copyfile(companion, folder / companion.name)
        return folder / "spec.yaml"


def _header_lines(raw: bytes) -> Iterator[bytes]:
    """The comment lines at the top of a case, in whatever encoding its bytes are (UTF-16 included)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raw = raw.decode("utf-16").encode("utf-8")
    for line in raw.lstrip(b"\xef\xbb\xbf").splitlines():
        if not line.startswith(b"#"):
            return
        yield line


def _header_length(raw: bytes) -> int:
    return sum(len(line) + 1 for line in _header_lines(raw))


def read_case(path: Path) -> Case:
    fields: dict[str, list[str]] = {"attack": [], "expect": [], "repeat": []}
    last = None
    for line in _header_lines(path.read_bytes()):
        if (found := _HEADER.match(line)) is not None:
            last = found[1].decode()
            fields[last].append(found[2].decode())
        elif (more := _CONTINUATION.match(line)) is not None and last == "attack":
            fields["attack"][-1] += " " + more[1].decode()
    repeat = int(fields["repeat"][0]) if fields["repeat"] else 1
    return Case(path.stem, path, " ".join(fields["attack"]), tuple(fields["expect"]), repeat)


def all_cases() -> list[Case]:
    return [read_case(path) for path in sorted(CASES.glob("*.yaml"))]


def render(issue: SpecIssue) -> str:
    """An issue as a case expects it: without the spec's own file name, with any other file's name."""
    text = str(issue)
    prefix = f"{issue.file}:"
    assert text.startswith(prefix)
    name = Path(issue.file).name
    return text[len(prefix) :] if name == "spec.yaml" else f"{name}:{text[len(prefix) :]}"


CORPUS = all_cases()


def test_the_corpus_is_large_and_every_case_says_what_it_attacks_and_expects() -> None:
    assert len(CORPUS) >= 90
    for case in CORPUS:
        assert case.attack, f"{case.name}: no '# attack:' line"
        assert case.expect, f"{case.name}: no '# expect:' line"
        kinds = {"loads" if e == "loads" else e.split(" ", 1)[0] for e in case.expect}
        assert kinds in ({"refused"}, {"loads"}), f"{case.name}: expects {case.expect}"


@pytest.mark.timeout(180)  # a hostile input must never hang the loader; this bounds a regression, it times nothing
@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_hostile_input_meets_its_expected_outcome(case: Case, tmp_path: Path) -> None:
    spec_path = case.materialize(tmp_path / case.name)
    if not case.refused:
        _loads_and_its_server_builds(spec_path, tmp_path)
        return
    with pytest.raises(SpecError) as caught:
        load_spec(spec_path)
    rendered = [render(issue) for issue in caught.value.issues]
    expected = [e.removeprefix("refused ") for e in case.expect]
    assert any(e in rendered for e in expected), f"{case.attack}\nexpected one of {expected}\ngot {rendered}"


def _loads_and_its_server_builds(spec_path: Path, tmp_path: Path) -> None:
    package = f"redteam_{spec_path.parent.name}"
    folder = tmp_path / package
    shutil.copytree(spec_path.parent, folder)
    compile_spec(folder / "spec.yaml")
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(f"{package}.server")
        assert module.build().name == module.ENV_NAME
    finally:
        sys.path.remove(str(tmp_path))
        for name in [package, f"{package}.server", f"{package}._runtime"]:
            sys.modules.pop(name, None)


REFUSED = [case for case in CORPUS if case.refused]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", REFUSED, ids=[case.name for case in REFUSED])
def test_compile_answers_a_hostile_input_with_located_lines_and_status_2(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path = case.materialize(tmp_path / case.name)
    status = main(["compile", str(spec_path)])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    lines = err.splitlines()
    assert lines, "a refusal says why"
    assert [line for line in lines if not _LOCATED.match(line)] == []


def _first_problem(scan: Callable[[], object]) -> InputProblem | None:
    try:
        scan()
    except InputProblem as problem:
        return problem
    except YAMLError:  # a syntax error, which the loader reports in its own words
        return None
    return None


def _round_trip_alone(text: str) -> None:
    yaml = YAML(typ="rt")
    yaml.Parser = _input._BoundedParser
    for _event in yaml.parse(text):
        pass


@pytest.mark.slow
@pytest.mark.skipif(_input._fast_events is None, reason="PyYAML without libyaml: the round-trip parser checks alone")
@pytest.mark.timeout(180)
def test_libyaml_refuses_what_the_round_trip_parser_alone_refuses_at_the_same_place(tmp_path: Path) -> None:
    first_by_libyaml: dict[str, InputProblem] = {}
    disagree = []
    for case in CORPUS:
        try:
            text = read_text(case.materialize(tmp_path / case.name), MAX_SPEC_BYTES, "spec")
        except InputProblem:
            continue  # refused before any YAML parser sees it
        fast = _first_problem(lambda: _input._scan_fast(text))  # noqa: B023 (called at once)
        if fast is None:
            continue
        first_by_libyaml[case.name] = fast
        alone = _first_problem(lambda: _round_trip_alone(text))  # noqa: B023
        if alone != fast:
            disagree.append((case.name, fast, alone))
    assert disagree == []
    assert {"billion_laughs", "too_many_nodes", "deep_block_mapping", "yaml_python_object_tag"} <= set(first_by_libyaml)
