"""The poller's hand-built bulk inserts: skip duplicates, drop nothing else,
store every value as peewee would."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pytest

from app.db import database as db_proxy
from app.models import ChainEvent, Notification
from poller import bulk_insert
from poller.bulk_insert import insert_rows
from poller.decode import Event

# Where a log sits, shared by the stored rows and the events of these tests.
_POSITION = {
    "chain_id": 1,
    "block_number": 10,
    "block_hash": "0x" + "11" * 32,
    "tx_hash": "0x" + "22" * 32,
    "contract": "0x" + "33" * 20,
}


def _row(log_index: int, **overrides) -> dict:
    row = {**_POSITION, "log_index": log_index, "name": "Subscribe", "args": "{}"}
    row.update(overrides)
    return row


def test_duplicates_are_skipped_and_defaults_filled(db):
    insert_rows(ChainEvent, [_row(0), _row(1)])
    insert_rows(ChainEvent, [_row(1), _row(2)])

    assert [
        e.log_index for e in ChainEvent.select().order_by(ChainEvent.log_index)
    ] == [0, 1, 2]
    assert all(e.created_at is not None for e in ChainEvent.select())


def test_a_row_breaking_a_constraint_raises_instead_of_vanishing(db):
    with pytest.raises(pw.IntegrityError), db.atomic():
        insert_rows(ChainEvent, [_row(0, name=None)])
    assert ChainEvent.select().count() == 0


@pytest.mark.parametrize(
    "text",
    [
        "plain-text_1.2:3+4",
        'it\'s 100% \\ "quoted"',
        "line\nbreak\r\ttab \x1a end",
        "ünïcødé ✓ 𝄞",
        "%s %(name)s %%",
    ],
)
def test_values_written_as_literals_read_back_unchanged(db, text):
    insert_rows(
        ChainEvent,
        [
            _row(0, args=text, undo=None),
            _row(1, args="{}", undo=text, block_number=2**62),
        ],
    )

    first, second = ChainEvent.select().order_by(ChainEvent.log_index)
    assert (first.args, first.undo, first.block_number) == (text, None, 10)
    assert (second.args, second.undo, second.block_number) == ("{}", text, 2**62)


def test_timestamps_written_as_literals_are_stored_as_peewee_stores_them(db):
    stamp = dt.datetime(2026, 12, 4, 18, 30, 5, 123456)
    ChainEvent.create(**_row(0, created_at=stamp))
    insert_rows(ChainEvent, [_row(1, created_at=stamp)])

    peewees, ours = (
        e.created_at for e in ChainEvent.select().order_by(ChainEvent.log_index)
    )
    assert ours == peewees


def _notification(log_index: int, **overrides) -> Event:
    fields = {
        **_POSITION,
        "log_index": log_index,
        "name": "SendNotification",
        "signature": "SendNotification(address,address,bytes)",
        "args": {
            "channel": "0x" + "c1" * 20,
            "recipient": "0x" + "a1" * 20,
            "identity": b"3+\x00\xff'%",
        },
    }
    fields.update(overrides)
    return Event(**fields)


def _stored_notifications() -> list[dict]:
    rows = Notification.select().order_by(Notification.log_index).dicts()
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]


def _store(inserts) -> None:
    for sql, params in inserts:
        db_proxy.execute_sql(sql, params)


def test_notification_rows_formatted_from_events_are_the_generic_rows(db, monkeypatch):
    stamp = dt.datetime(2026, 12, 4, 18, 30, 5, 123456)
    monkeypatch.setattr(bulk_insert, "utcnow", lambda: stamp)
    events = [_notification(i) for i in range(3)]
    rows = bulk_insert._notification_rows(1, events, stamp)
    assert list(bulk_insert._with_defaults(Notification, rows)[0]) == list(
        bulk_insert.NOTIFICATION_COLUMNS
    )

    _store(bulk_insert.notification_inserts(1, events))
    formatted = _stored_notifications()
    Notification.delete().execute()
    _store(bulk_insert.insert_statements(Notification, rows))

    assert formatted == _stored_notifications()
    assert [bytes(r["identity"]) for r in formatted] == [b"3+\x00\xff'%"] * 3


def test_notification_with_a_value_to_escape_is_stored_unchanged(db):
    odd = "0x'; DROP TABLE notification; --"
    _store(bulk_insert.notification_inserts(1, [_notification(0, block_hash=odd)]))

    assert Notification.get().block_hash == odd
