"""Call bounds: a call past its CPU time is cut off as a fault of that call only; C-level bombs are guarded."""

from __future__ import annotations

from typing import Any

import pytest

from mcpfactory.runtime import FAULT_META_KEY
from mcpfactory.runtime._bounds import CallLimits
from mcpfactory.runtime._guards import MAX_SUBJECT, UnsafePattern, power
from mcpfactory.runtime.guarded_re import compile as guarded_compile
from mcpfactory.runtime.guarded_re import fullmatch

SPEC = """
name: bombs
description: Tools that misbehave on purpose.
limits: {cpu_s: 0.2, memory_mb: 64}
collections:
  notes:
    record: Note
    key: note_id
    fields: {note_id: str, text: str}
    seed: [{note_id: n1, text: hello}]
tools:
  spin:
    description: Count for a long time, after writing a note.
    effect: write
    params: {n: int}
    returns: int
    body: |
      state.notes["n2"] = {"note_id": "n2", "text": "spun"}
      total = 0
      for i in range(n):
          total += i % 7
      return total
  check_code:
    description: Check a code against a pattern stored in the seed.
    effect: read
    params: {pattern: str, code: str}
    returns: bool
    body: |
      import re
      return re.fullmatch(pattern, code) is not None
  raise_to:
    description: Raise two to a power.
    effect: read
    params: {exponent: int}
    returns: str
    body: |
      return str(2 ** exponent % 7)
"""


@pytest.fixture
def bombs(compile_package: Any) -> Any:
    return compile_package(SPEC, "bombs_env")


def test_a_call_past_its_cpu_bound_is_a_fault_and_its_writes_are_dropped(bombs: Any) -> None:
    env = bombs.env
    assert env.limits == CallLimits(cpu_s=0.2, memory_mb=64)
    session = env.new_session()
    result = env.call(session, "spin", {"n": 10**10})
    assert result.is_error and result.meta[FAULT_META_KEY]["kind"] == "env_fault"
    assert "n2" not in session.state.notes
    assert env.call(session, "spin", {"n": 10}).structured_content == {"result": sum(i % 7 for i in range(10))}


def test_a_pattern_that_backtracks_exponentially_is_refused_before_it_runs(bombs: Any) -> None:
    session = bombs.env.new_session()
    refused = bombs.env.call(session, "check_code", {"pattern": "(a+)+b", "code": "a" * 40})
    assert refused.is_error and FAULT_META_KEY in refused.meta
    fine = bombs.env.call(session, "check_code", {"pattern": "[A-Z]{2}[0-9]+", "code": "AB12"})
    assert fine.structured_content == {"result": True}


def test_a_power_too_large_to_compute_is_refused_before_it_is_computed(bombs: Any) -> None:
    session = bombs.env.new_session()
    assert bombs.env.call(session, "raise_to", {"exponent": 10}).structured_content == {"result": str(1024 % 7)}
    refused = bombs.env.call(session, "raise_to", {"exponent": 10**9})
    assert refused.is_error and FAULT_META_KEY in refused.meta


@pytest.mark.parametrize(
    ("pattern", "safe"),
    [
        (r"(a+)+b", False),
        (r"(a|aa)*", False),
        (r"(\w+\s?)*$", False),
        (r"(a)\1", False),
        (r"^\d{3}-\d{4}$", True),
        (r"^[\w.+-]+@[\w-]+\.[\w.]+$", True),
        (r"(ab)+c", True),
        (r"(a|b)+", True),
    ],
)
def test_patterns_prone_to_exponential_backtracking_are_refused(pattern: str, safe: bool) -> None:
    if safe:
        guarded_compile(pattern)
    else:
        with pytest.raises(UnsafePattern):
            guarded_compile(pattern)


def test_a_subject_too_long_is_refused_and_powers_are_bounded() -> None:
    with pytest.raises(UnsafePattern):
        fullmatch("a*", "a" * (MAX_SUBJECT + 1))
    assert power(3, 4) == 81 and power(2.0, 0.5) == 2.0**0.5 and power(2, -1) == 0.5
    with pytest.raises(OverflowError):
        power(10, 10**7)


def test_garbage_collection_during_a_call_does_not_count_against_its_cpu_bound() -> None:
    import gc
    import time

    from mcpfactory.runtime._bounds import Watchdog

    garbage = [[index] for index in range(1_000_000)]  # objects a full collection must walk
    started = time.thread_time()
    gc.collect()
    collect_cost = time.thread_time() - started
    watchdog = Watchdog(CallLimits(cpu_s=max(0.02, collect_cost / 4), memory_mb=4096))
    with watchdog.bounded():
        for _ in range(8):
            gc.collect()  # several times the bound, all of it the collector's
    assert len(garbage) == 1_000_000
