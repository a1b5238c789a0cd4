"""The determinism check's second process really runs under another hash seed, time zone and locale."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from mcp.client.stdio import StdioServerParameters

from mcpfactory.verify._elsewhere import _ZONES, elsewhere, other_locale
from mcpfactory.verify._stdio import server_command

_PROBE = """\
import json, locale, os, sys, time
print(json.dumps({
    "argv": sys.argv[1:],
    "hash_seed": os.environ.get("PYTHONHASHSEED"),
    "offset": time.localtime().tm_gmtoff,
    "lc_time": locale.setlocale(locale.LC_TIME),
    "lc_numeric": locale.setlocale(locale.LC_NUMERIC),
}))
"""


def test_the_second_process_runs_the_package_under_another_seed_zone_and_locale(tmp_path: Path) -> None:
    package = tmp_path / "probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(_PROBE)
    command = server_command("probe_pkg", "--control")
    plain = StdioServerParameters(
        command=command[0],
        args=command[1:],
        cwd=str(tmp_path),
        env={"PYTHONPATH": str(tmp_path), "PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "")},
    )
    there = elsewhere(7)
    params = there.apply(plain)
    done = subprocess.run(
        [params.command, *params.args], cwd=params.cwd, env=params.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    expected_locale = there.locale or "C"
    assert json.loads(done.stdout) == {
        "argv": ["--control"],
        "hash_seed": "7",
        "offset": dict(_ZONES)[there.time_zone],
        "lc_time": expected_locale,
        "lc_numeric": expected_locale,
    }
    assert dict(_ZONES)[there.time_zone] != time.localtime().tm_gmtoff
    assert there.locale == other_locale()


def test_the_description_names_what_differs() -> None:
    there = elsewhere(3)
    where = f"locale {there.locale}" if there.locale else "no locale but C installed"
    assert there.describe() == f"hash seed 3, TZ {there.time_zone}, {where}"
