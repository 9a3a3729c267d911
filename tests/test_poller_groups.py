"""Ranges already read are committed together, in one transaction, and
only while they link on; whatever does not is left for the next turn."""

from __future__ import annotations

import threading
import time

import peewee as pw
import pytest

from app.models import Checkpoint, Notification
from poller import runner as runner_module
from poller.decode import Event
from poller.fetch import RangeRead
from poller.read_ahead import ReadAhead
from poller.runner import ChainRunner
from poller.store import Position, PreparedRange, advance, commit_ranges
from poller.store import prepare_range as prepare

CHAIN = 5


def _hash(number: int) -> str:
    return "0x" + f"{number:064x}"


def _read(first: int, last: int, parent: str | None = None) -> RangeRead:
    blocks = tuple((n, _hash(n)) for n in range(first, last + 1))
    return RangeRead(first, last, parent or _hash(first - 1), blocks, ())


def _notification(block: int) -> Event:
    return Event(
        chain_id=CHAIN,
        block_number=block,
        block_hash=_hash(block),
        tx_hash="0x" + f"{block:064x}",
        log_index=0,
        contract="0x" + "ee" * 20,
        name="SendNotification",
        signature="SendNotification(address,address,bytes)",
        args={
            "channel": "0x" + "c1" * 20,
            "recipient": "0x" + "a1" * 20,
            "identity": b"3+x",
        },
    )


def _empty() -> PreparedRange:
    return PreparedRange((), (), ())


class _Reads:
    """Stands for a ReadAhead holding ``items`` already read."""

    def __init__(self, items):
        self.items = list(items)

    def ready(self, parent_hash):
        if self.items and self.items[0][0].parent_hash == parent_hash:
            return self.items.pop(0)
        return None


def test_ranges_already_read_that_link_on_are_grouped():
    first = (_read(1, 4), _empty())
    linked = [(_read(5, 8), _empty()), (_read(9, 12), _empty())]
    forked = (_read(13, 16, parent="0x" + "ff" * 32), _empty())
    reads = _Reads([*linked, forked])

    group = ChainRunner._group(None, reads, [first])

    assert group == [first, *linked]
    assert reads.items == [forked]  # a reorg, for the next turn


def test_a_group_stops_at_its_event_bound(monkeypatch):
    monkeypatch.setattr(runner_module, "GROUP_EVENTS", 2)
    items = [
        (_read(n, n), PreparedRange((_notification(n),), (), ())) for n in range(1, 5)
    ]
    reads = _Reads(items[1:])

    group = ChainRunner._group(None, reads, [items[0]])

    assert group == items[:2]
    assert reads.items == items[2:]


def _wait_for(condition) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the read-ahead thread never got there"
        time.sleep(0.01)


def test_read_ahead_gives_only_a_linked_range_without_waiting():
    release = threading.Event()
    reads_made = []

    def read(first, target):
        if first == 3:
            release.wait(10)
        reads_made.append(first)
        parent = "0x" + "ff" * 32 if first == 5 else None
        return _read(first, first + 1, parent), _empty()

    reads = ReadAhead(read, 1, 6)
    try:
        item = reads.next()
        assert item[0].first == 1
        assert reads.ready(_hash(2)) is None  # not read yet: no waiting
        release.set()
        _wait_for(lambda: len(reads_made) == 3)

        assert reads.ready(_hash(2))[0].first == 3
        assert reads.ready(_hash(4)) is None  # 5-6 does not link on
        assert reads.next()[0].first == 5  # and comes next all the same
    finally:
        reads.close()


def test_read_ahead_keeps_an_error_for_next():
    def read(first, target):
        if first == 3:
            raise RuntimeError("node gone")
        return _read(first, first + 1), _empty()

    reads = ReadAhead(read, 1, 6)
    try:
        reads.next()
        _wait_for(lambda: reads._items.qsize() == 1)
        assert reads.ready(_hash(2)) is None
        with pytest.raises(RuntimeError, match="node gone"):
            reads.next()
    finally:
        reads.close()


def test_ranges_committed_together_are_stored_or_dropped_together(db):
    start = Position(0, None)
    one = advance(start, [(1, _hash(1))])
    two = advance(one, [(2, _hash(2))])
    good = prepare(CHAIN, [_notification(1)])
    broken = PreparedRange((), (), (("INSERT INTO nowhere VALUES (1)", []),))

    with pytest.raises(pw.DatabaseError):
        commit_ranges(CHAIN, start, two, [good, broken])
    assert Notification.select().count() == 0
    assert Checkpoint.select().count() == 0

    commit_ranges(CHAIN, start, two, [good, prepare(CHAIN, [_notification(2)])])
    assert Notification.select().count() == 2
    assert Checkpoint.get().block_number == 2


def test_ranges_committed_together_look_for_re_mined_ones_once(db, monkeypatch):
    statements = []
    execute_sql = type(db.obj).execute_sql

    def counting(self, sql, params=None, *args, **kwargs):
        statements.append(sql)
        return execute_sql(self, sql, params, *args, **kwargs)

    monkeypatch.setattr(type(db.obj), "execute_sql", counting)
    start = Position(0, None)
    after = advance(start, [(n, _hash(n)) for n in (1, 2, 3)])
    parts = [prepare(CHAIN, [_notification(n)]) for n in (1, 2, 3)]

    commit_ranges(CHAIN, start, after, parts)

    looks = [s for s in statements if s.startswith("SELECT") and "notification" in s]
    assert len(looks) == 1
    assert Notification.select().count() == 3
