"""Run the launcher in the background on free ports, for tests and benchmarks.

The launcher gets a private state directory, so a background stack never
touches a developer's ``var/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from app.config import ROOT
from devstack.services import ServiceError, free_port

SERVICES = ("api", "anvil", "fcm", "apns", "apns-control", "ipfs", "dashboard")


@dataclass
class BackgroundStack:
    proc: subprocess.Popen
    var: Path
    urls: dict[str, str]

    def output(self) -> str:
        return (self.var / "devstack.out").read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop as Ctrl-C would; True when everything stopped in time.

        Otherwise the launcher and every process of the stack are killed:
        children run in sessions of their own, and one left behind would
        keep working on the database and Redis of whatever runs next.
        """
        if self.proc.poll() is not None:
            return True
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            for pid in processes_of(self.var):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return False


def hear_ctrl_c() -> None:
    """Ctrl-C is how ``stop`` asks the launcher to stop, but a shell starts
    background jobs (a test run with ``&``) with SIGINT ignored, and the
    launcher would inherit that and never hear it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def processes_of(var: Path) -> list[int]:
    """Pids of live processes started for the stack whose state is ``var``.

    Each inherits ``EPNS_VAR_DIR`` from the launcher, but Valkey writes its
    process title over its environment; its command line names its socket
    under ``var`` instead.
    """
    marker = f"EPNS_VAR_DIR={var}".encode()
    under_var = f"{var}/".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (marker in environ.split(b"\0") or under_var in cmdline):
            pids.append(int(entry.name))
    return pids


def start_stack(
    var: Path, env: dict[str, str] | None = None, timeout: float = 120.0
) -> BackgroundStack:
    """Start ``python -m devstack`` and wait until it reports its addresses."""
    var.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "devstack"]
    for name in SERVICES:
        args += [f"--{name}-port", str(free_port())]
    full_env = {
        **os.environ,
        **(env or {}),
        "EPNS_VAR_DIR": str(var),
        "PYTHONUNBUFFERED": "1",
    }
    with (var / "devstack.out").open("wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=hear_ctrl_c,
        )

    status = var / "devstack.json"
    deadline = time.monotonic() + timeout
    while not status.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stack = BackgroundStack(proc, var, {})
            stack.stop(5)
            raise ServiceError("launcher did not come up:\n" + stack.output()[-3000:])
        time.sleep(0.3)
    return BackgroundStack(proc, var, json.loads(status.read_text()))
