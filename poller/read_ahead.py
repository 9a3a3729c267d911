"""Reading ranges ahead of the commits, in a thread of their own.

Each range is read, checked, decoded and written out as SQL while the
ranges before it are being stored, and the reader does not wait for a
commit to start the next range: the node, the database and Redis then all
work at once, and a slow range on either side is absorbed by the queue
between them. The next range starts where the last read ended, which no
commit changes. Only this thread calls the node while it runs, so a caller
that needs the node (to roll back a reorg) closes it first.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable

from poller.fetch import RangeRead
from poller.store import PreparedRange

log = logging.getLogger(__name__)

DEPTH = 2  # ranges read ahead of the one being committed

Item = tuple[RangeRead, PreparedRange]


class ReadAhead:
    """Gives ``read(first, target)`` for successive ranges up to
    ``target``; an exception ends the reading and is raised by ``next`` in
    its turn."""

    def __init__(
        self, read: Callable[[int, int], Item], first: int, target: int
    ) -> None:
        self._read = read
        self._first = first
        self._target = target
        self._items: queue.Queue = queue.Queue(maxsize=DEPTH)
        self._held: tuple[Item | None, BaseException | None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="read-ahead", daemon=True
        )
        self._thread.start()

    def next(self) -> Item:
        if self._held is not None:
            (item, error), self._held = self._held, None
        else:
            item, error = self._items.get()
        if error is not None:
            raise error
        return item

    def ready(self, parent_hash: str) -> Item | None:
        """The next range if it is read already and its first block's parent
        has hash ``parent_hash``; otherwise None, without waiting, and
        ``next`` gives what came (a range, or the error)."""
        if self._held is None:
            try:
                self._held = self._items.get_nowait()
            except queue.Empty:
                return None
        item, error = self._held
        if error is not None or item is None or item[0].parent_hash != parent_hash:
            return None
        self._held = None
        return item

    def close(self) -> None:
        """Stop reading and wait for the read in flight to end."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._items.get(timeout=0.05)  # unblock a full queue
        self._thread.join()

    def _run(self) -> None:
        first = self._first
        while first <= self._target and not self._stop.is_set():
            try:
                item = self._read(first, self._target)
            except BaseException as exc:  # raised by next() in its turn
                self._items.put((None, exc))
                return
            self._items.put((item, None))
            first = item[0].last + 1
