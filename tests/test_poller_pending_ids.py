"""Pending notification ids read back for the hand-off: all of them, in
order, also when the database cuts the joined list short."""

from __future__ import annotations

import pytest

from app.db import is_mysql
from app.models import Notification, NotificationStatus
from poller import store
from poller.store import pending_ids


def _add(count: int, block_number: int, status: str = "pending") -> list[int]:
    ids = []
    for _ in range(count):
        row = Notification.create(
            chain_id=1,
            tx_hash=f"0x{block_number:032x}{len(ids):032x}",
            log_index=Notification.select().count(),
            block_number=block_number,
            block_hash="0x" + "11" * 32,
            channel="0x" + "c1" * 20,
            recipient="0x" + "a1" * 20,
            identity=b"3+x",
            status=status,
        )
        ids.append(row.id)
    return ids


def test_pending_ids_of_a_block_range_in_order(db):
    before = _add(3, 9)
    inside = _add(40, 10) + _add(2, 12)
    _add(2, 11, status=NotificationStatus.DISPATCHED)
    after = _add(2, 13)

    assert pending_ids(1, 10, 12) == inside
    assert pending_ids(1) == before + inside + after
    assert pending_ids(1, 14, 20) == []
    assert pending_ids(2) == []


@pytest.mark.parametrize(
    ("count", "total", "text"),
    [
        (3, 1 + 2 + 34, "1,2,3"),  # the last id shortened
        (3, 1 + 2 + 34, "1,2,"),
        (3, 1 + 2 + 34, "1,2"),
        (3, 1 + 2 + 34, ""),
    ],
)
def test_a_joined_list_cut_short_is_not_taken(count, total, text):
    assert store._joined_ids(count, total, text) is None


def test_a_joined_list_in_any_order_comes_back_sorted():
    assert store._joined_ids(3, 37, b"34,1,2") == [1, 2, 34]
    assert store._joined_ids(0, None, None) == []


def test_ids_are_read_row_by_row_when_the_server_cuts_the_list(db):
    ids = _add(30, 10)
    if not is_mysql(db.obj):
        pytest.skip("only MySQL limits the length of a joined list")
    db.execute_sql("SET SESSION group_concat_max_len = 16")
    try:
        assert pending_ids(1, 10, 10) == ids
    finally:
        db.execute_sql("SET SESSION group_concat_max_len = DEFAULT")
