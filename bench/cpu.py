"""CPU seconds the processes of a benchmark spend, read from ``/proc``.

On a shared machine a stage's wall time depends on what else runs; the
CPU seconds each of our processes spent in the same interval say what the
cores had to do. Their sum, spread over every core, is a floor under the
wall time of that work on this machine, however well it overlaps.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis

_TICKS = os.sysconf("SC_CLK_TCK")

Reading = Callable[[], float]


def own() -> Reading:
    """This process, every thread of it."""
    return time.process_time


def process_tree(pid: int) -> Reading:
    """``pid`` and its descendants (anvil runs under a Node.js launcher)."""
    return lambda: sum(_seconds(p) for p in _tree(pid))


def named(*names: str) -> Reading | None:
    """The processes called one of ``names`` (a local database server), or
    None when this machine runs none of them."""
    if not _by_name(names):
        return None
    return lambda: sum(_seconds(p) for p in _by_name(names))


def redis_server(redis: Redis) -> Reading:
    """The server's own count, wherever it runs (INFO cpu)."""

    def read() -> float:
        info = redis.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    return read


class CpuMeter:
    """CPU seconds of each named reading between ``start`` and ``stop``."""

    def __init__(self, readings: dict[str, Reading | None]) -> None:
        self.readings = {k: v for k, v in readings.items() if v is not None}
        self.spent: dict[str, float] = {}
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: read() for name, read in self.readings.items()}

    def stop(self) -> dict[str, float]:
        self.spent = {
            name: read() - self._before[name] for name, read in self.readings.items()
        }
        return self.spent

    @property
    def total(self) -> float:
        return sum(self.spent.values())


def _seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(child) for child in task.read_text().split()]
    return found


def _by_name(names: tuple[str, ...]) -> list[int]:
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in names:
                pids.append(int(comm.parent.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids
