"""Bounds on one tool call: CPU time and memory, enforced by the server itself.

A body runs inline on the server's thread (a call costs microseconds; a
thread or a process per call would cost more than the call). While it runs, a
periodic CPU-time alarm (`SIGVTALRM`, POSIX, main thread) checks the call's
CPU time (less any garbage collection that ran meanwhile, which is the
process's, not the body's) and how much the process's resident memory grew;
past either bound it raises `CallBoundExceeded` inside the body, at its next
bytecode. The
exception derives from `BaseException`, and bodies may not catch that
(the spec checker refuses `except:`, `except Exception` and `except
BaseException`), so the call ends as an environment fault and every write it
made is dropped; other sessions go on.

What is not bounded here, and what is instead:

- A single long operation in C (a regular expression backtracking, a huge
  integer power) cannot be interrupted until it returns. Bodies therefore get
  a guarded `re` (`mcpfactory.runtime._guards`: patterns prone to exponential
  backtracking are refused, subjects are bounded in length) and a guarded
  power (`x ** y` with a non-literal exponent), and the spec checker bounds
  literal exponents, repetitions and format widths.
- A single huge allocation is refused by the operating system when the
  server runs with a process memory limit (`--max-memory-mb`, `RLIMIT_AS`),
  as a `MemoryError` inside the call.
- Off the main thread, or without `SIGVTALRM` (Windows), CPU time is not
  bounded; the guards still apply.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

__all__ = ["CallBoundExceeded", "CallLimits", "Watchdog", "set_process_memory_limit"]

_TICK_S = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True, slots=True)
class CallLimits:
    """What one tool call may use: CPU seconds, and megabytes of memory growth."""

    cpu_s: float = 0.5
    memory_mb: float = 256.0

    def to_json(self) -> dict[str, float]:
        return {"cpu_s": self.cpu_s, "memory_mb": self.memory_mb}


class CallBoundExceeded(BaseException):
    """A call used more CPU time or memory than its bound; raised inside the body, never caught by it."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class Watchdog:
    """Arm a CPU-time alarm around each call and interrupt the call that passes its bounds.

    The signal handler is installed once, on first use; arming and disarming a
    call costs two `setitimer` calls. Memory growth is measured from the first
    tick (a call short enough never to see a tick is never measured, nor needs to be).
    """

    _installed = False
    _current: Watchdog | None = None

    def __init__(self, limits: CallLimits) -> None:
        self.limits = limits
        self._armed = False
        self._started = 0.0
        self._rss = 0
        self._gc_started = 0.0
        self._gc_spent = 0.0

    @classmethod
    def _collecting(cls, phase: str, info: dict[str, int]) -> None:
        # A garbage collection can start inside any call and scan the whole process (thousands of other
        # sessions' objects): its CPU time is not the body's, so it does not count against the bound.
        watchdog = cls._current
        if watchdog is None or not watchdog._armed:
            return
        if phase == "start":
            watchdog._gc_started = time.thread_time()
        elif watchdog._gc_started:
            watchdog._gc_spent += time.thread_time() - watchdog._gc_started
            watchdog._gc_started = 0.0

    @classmethod
    def _handle(cls, signum: int, frame: FrameType | None) -> None:
        watchdog = cls._current
        if watchdog is not None and watchdog._armed:
            watchdog._check()

    def _check(self) -> None:
        if self._gc_started:
            return  # inside a collection: judge the call once it is over
        used = time.thread_time() - self._started - self._gc_spent
        if used > self.limits.cpu_s:
            self._armed = False
            raise CallBoundExceeded(f"the call used more than its {self.limits.cpu_s:g} s of CPU time")
        rss = _rss_bytes()
        if rss is None:
            return
        if not self._rss:
            self._rss = rss
        elif rss - self._rss > self.limits.memory_mb * 1024 * 1024:
            self._armed = False
            raise CallBoundExceeded(f"the call grew the server's memory by more than {self.limits.memory_mb:g} MB")

    @classmethod
    def _usable(cls) -> bool:
        if not (hasattr(signal, "SIGVTALRM") and hasattr(signal, "setitimer")):
            return False
        if threading.current_thread() is not threading.main_thread():
            return False
        if not cls._installed:
            signal.signal(signal.SIGVTALRM, cls._handle)
            gc.callbacks.append(cls._collecting)
            cls._installed = True
        return True

    @contextmanager
    def bounded(self) -> Iterator[None]:
        """Run the block under the call's bounds (a no-op where the alarm cannot be used)."""
        if not self._usable():
            yield
            return
        outer = Watchdog._current
        Watchdog._current = self
        self._started = time.thread_time()
        self._rss = 0
        self._gc_started = self._gc_spent = 0.0
        self._armed = True
        tick = min(_TICK_S, self.limits.cpu_s)
        signal.setitimer(signal.ITIMER_VIRTUAL, tick, tick)
        try:
            yield
        finally:
            self._armed = False
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            Watchdog._current = outer


def set_process_memory_limit(megabytes: float) -> bool:
    """Cap the process's address space (`RLIMIT_AS`) so a huge allocation fails as `MemoryError`.

    Returns False where the limit cannot be set (no `resource` module, or a
    lower hard limit already in place).
    """
    try:
        import resource
    except ImportError:
        return False
    limit = int(megabytes * 1024 * 1024)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY and hard < limit:
        return False
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        return False
    return sys.platform != "win32"
