"""A second server process that differs from the verifier's in everything a result must not depend on.

The determinism check compares the server imported here with one started
elsewhere, so that a result or state that depends on the process shows up:

- another string-hash seed (`PYTHONHASHSEED`): the order of sets and of dicts
  built from them;
- another time zone (`TZ`, a POSIX rule that needs no zone database): anything
  that reads local time, with an offset different from this process's;
- another locale, set with `setlocale(LC_ALL, "")` before the server starts (as
  a host program may do; Python itself leaves LC_TIME and LC_NUMERIC at "C"):
  month and day names, `%c`/`%x`, the `n` number format. Only where the machine
  has a locale besides C and POSIX; `describe` says which was used.

The server is started through the same launcher as every verified server
(`server_command`), which then runs the package with `runpy` after the
`setlocale` call instead of `python -m`.
"""

from __future__ import annotations

import functools
import subprocess
import time
from dataclasses import dataclass

from mcp.client.stdio import StdioServerParameters

__all__ = ["Elsewhere", "elsewhere"]

# POSIX TZ rules (hours *west* of UTC): UTC-09:30 and UTC+05:45, offsets few machines run at.
_ZONES = (("XMT+9:30", -(9 * 3600 + 30 * 60)), ("YMT-5:45", 5 * 3600 + 45 * 60))
_PREFERRED_LOCALES = ("de_DE", "fr_FR", "tr_TR", "ja_JP", "en_US")
_RUNNER = """\
import locale, runpy, sys
try:
    locale.setlocale(locale.LC_ALL, "")
except locale.Error:
    pass
package = sys.argv.pop(1)
runpy.run_module(package, run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class Elsewhere:
    """What the second process runs under: its hash seed, time zone and locale (None: only C here)."""

    hash_seed: int
    time_zone: str
    locale: str | None

    def describe(self) -> str:
        where = f"locale {self.locale}" if self.locale else "no locale but C installed"
        return f"hash seed {self.hash_seed}, TZ {self.time_zone}, {where}"

    def apply(self, params: StdioServerParameters) -> StdioServerParameters:
        """The same server command with this environment, and `setlocale` run before the package."""
        env = dict(params.env or {})
        env.update({"PYTHONHASHSEED": str(self.hash_seed), "TZ": self.time_zone})
        if self.locale is not None:
            env.update({"LC_ALL": self.locale, "LANG": self.locale})
        args = list(params.args)
        if "-m" in args:  # [..., "-m", package, *extra] -> [..., "-c", runner, package, *extra]
            at = args.index("-m")
            args[at : at + 1] = ["-c", _RUNNER]
        return params.model_copy(update={"args": args, "env": env})


def other_time_zone() -> str:
    """A POSIX TZ rule whose offset differs from this process's."""
    here = time.localtime().tm_gmtoff
    return next(rule for rule, offset in _ZONES if offset != here)


@functools.cache
def other_locale() -> str | None:
    """An installed locale other than C and POSIX, preferring ones that spell dates and numbers differently."""
    try:
        listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = [name for name in listed.split() if name.split(".")[0] not in ("C", "POSIX")]
    utf8 = [name for name in names if name.lower().endswith((".utf8", ".utf-8"))]
    for prefix in _PREFERRED_LOCALES:
        for name in utf8 or names:
            if name.startswith(prefix):
                return name
    candidates = utf8 or names
    return candidates[0] if candidates else None


def elsewhere(hash_seed: int) -> Elsewhere:
    """The environment of the second process: the given hash seed, another time zone, another locale."""
    return Elsewhere(hash_seed, other_time_zone(), other_locale())
