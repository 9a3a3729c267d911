"""Run the local system's processes side by side and stop them together.

Each child's output is copied to ``var/log/<name>.log`` and, prefixed with
its name, to the terminal, so one window shows the whole system at work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.config import VAR


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path
    thread: threading.Thread | None = field(default=None, repr=False)
    adopted: bool = False


class Supervisor:
    def __init__(self, quiet: set[str] | None = None) -> None:
        self.children: list[Child] = []
        self.quiet = quiet or set()
        (VAR / "log").mkdir(parents=True, exist_ok=True)

    def spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> Child:
        """Start ``args`` in its own process group with ``env`` added."""
        proc = subprocess.Popen(
            args,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child = Child(name, proc, self.log_path(name))
        child.thread = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.thread.start()
        self.children.append(child)
        return child

    def adopt(self, name: str, proc: subprocess.Popen) -> Child:
        """Take charge of a process started elsewhere, to stop it with the rest."""
        child = Child(name, proc, self.log_path(name), adopted=True)
        self.children.append(child)
        return child

    @staticmethod
    def log_path(name: str) -> Path:
        """Where ``name`` logs; an adopted process is given it when started."""
        return VAR / "log" / f"{name}.log"

    def _pump(self, child: Child) -> None:
        with child.log_path.open("ab") as log_file:
            for line in child.proc.stdout:
                log_file.write(line)
                log_file.flush()
                if child.name not in self.quiet:
                    text = line.decode(errors="replace").rstrip()
                    try:
                        sys.stdout.write(f"[{child.name:>9}] {text}\n")
                        sys.stdout.flush()
                    except (BrokenPipeError, OSError):
                        self.quiet.add(child.name)

    def watch(self) -> str | None:
        """Block until a child exits; return its name (None on Ctrl-C, kill or
        hangup, which the launcher turns into Ctrl-C)."""
        try:
            while True:
                for child in self.children:
                    if child.proc.poll() is not None:
                        return child.name
                time.sleep(0.5)
        except KeyboardInterrupt:
            return None

    def stop_all(self, timeout: float = 10.0) -> None:
        """Stop the servers first, then the stores they use (Valkey, anvil),
        so no worker spends its last seconds failing to reach Redis."""
        servers = [c for c in self.children if not c.adopted]
        stores = [c for c in self.children if c.adopted]
        for group in (servers, stores):
            self._stop_group(list(reversed(group)), timeout)
        self.children.clear()

    def _stop_group(self, group: list[Child], timeout: float) -> None:
        for child in group:
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in group:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.proc.wait(remaining)
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the child's process group if it leads one, else the child."""
    if proc.poll() is not None:
        return
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass
