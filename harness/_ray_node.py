"""A local Ray node that ends when its driver does, however the driver ends (SIGKILL included).

`python -m harness._ray_node --port P --num-cpus N` makes itself a child
subreaper (Linux `PR_SET_CHILD_SUBREAPER`), starts a Ray head node with
`ray start --head` (in a temp dir of its own, removed after), prints `ready` on stdout, and then reads stdin until it
closes. The driver holds the other end of that pipe: when the driver exits or
is killed, the kernel closes it, and this process stops every process under
it. Ray's own daemons, its workers and the agents its raylet starts
(DashboardAgent, RuntimeEnvAgent) all descend from `ray start`; as a
subreaper this process adopts the ones whose parents exit first, so none is
left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    pending = _children(pid)
    while pending:
        child = pending.pop()
        out.append(child)
        pending.extend(_children(child))
    return out


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _stop_all(grace_s: float = 10.0) -> None:
    """Stop every descendant: SIGTERM, then SIGKILL what is left after `grace_s`; reap until none remain."""
    me = os.getpid()
    signal_to_send = signal.SIGTERM
    deadline = time.monotonic() + grace_s
    while left := _descendants(me):
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal_to_send)
        _reap()
        if time.monotonic() > deadline:
            signal_to_send = signal.SIGKILL
        time.sleep(0.1)  # processes of another tree: nothing to wait on but their exit
        _reap()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness._ray_node")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--num-cpus", type=int)
    args = parser.parse_args(argv)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"error: cannot become a subreaper (errno {ctypes.get_errno()})", flush=True)
        return 1
    # A temp dir of its own: `ray start` leaves its address in <temp dir>/ray_current_cluster, where a later
    # `ray.init()` on this machine would find a node that is gone.
    temp = tempfile.mkdtemp(prefix="mcpf-ray-")  # keep TMPDIR short: Ray's socket paths must fit 107 bytes
    ray = str(Path(sys.executable).with_name("ray"))
    command = [
        ray if Path(ray).exists() else "ray",
        "start",
        "--head",
        f"--port={args.port}",
        "--node-ip-address=127.0.0.1",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={temp}",
    ]
    if args.num_cpus:
        command.append(f"--num-cpus={args.num_cpus}")
    started = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if started.returncode != 0:
        _stop_all()
        shutil.rmtree(temp, ignore_errors=True)
        print(f"error: ray start failed: {started.stderr.decode(errors='replace')[-2000:]}", flush=True)
        return 1
    print("ready", flush=True)
    try:
        sys.stdin.buffer.read()  # returns when the driver's end closes: it finished, or it died
    finally:
        _stop_all()
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
