"""Progress lines while a chain is behind, and one summary line per pass."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

EVERY = 5.0  # seconds between progress lines


@dataclass
class Progress:
    chain_id: int
    start_block: int
    target: int
    head: int
    started: float = field(default_factory=time.monotonic)
    ranges: int = 0
    logs: int = 0
    notifications: int = 0
    queued: int = 0
    reorgs: int = 0
    block: int = 0
    _last_line: float = 0.0

    def record(self, last: int, logs: int, notifications: int) -> None:
        self.block = last
        self.ranges += 1
        self.logs += logs
        self.notifications += notifications
        now = time.monotonic()
        if now - self._last_line >= EVERY and last < self.target:
            self._last_line = now
            self._line(now)

    def _line(self, now: float) -> None:
        done = self.block - self.start_block + 1
        rate = done / max(now - self.started, 1e-6)
        lag = self.head - self.block
        eta = (self.target - self.block) / rate if rate else float("inf")
        log.info(
            "chain %s: block %d head %d lag %d, %.0f blocks/s, ETA %.0fs",
            self.chain_id,
            self.block,
            self.head,
            lag,
            rate,
            eta,
        )

    def summary(self, outcome: str) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.logs / max(elapsed, 1e-6)
        blocks = max(0, self.block - self.start_block + 1) if self.block else 0
        span = f"blocks {self.start_block}-{self.block}" if blocks else "no new blocks"
        return (
            f"chain {self.chain_id}: {outcome}; {span} ({blocks}), head {self.head}, "
            f"{self.ranges} ranges, {self.logs} logs, "
            f"{self.notifications} notifications, {self.queued} queued, "
            f"{self.reorgs} reorgs, {elapsed:.1f}s ({rate:.0f} logs/s)"
        )
