"""The poller's hand-built bulk insert: skips duplicates, drops nothing else."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pytest

from app.models import ChainEvent
from poller.store import _insert


def _row(log_index: int, **overrides) -> dict:
    row = {
        "chain_id": 1,
        "block_number": 10,
        "block_hash": "0x" + "11" * 32,
        "tx_hash": "0x" + "22" * 32,
        "log_index": log_index,
        "contract": "0x" + "33" * 20,
        "name": "Subscribe",
        "args": "{}",
    }
    row.update(overrides)
    return row


def test_duplicates_are_skipped_and_defaults_filled(db):
    _insert(ChainEvent, [_row(0), _row(1)])
    _insert(ChainEvent, [_row(1), _row(2)])

    assert [
        e.log_index for e in ChainEvent.select().order_by(ChainEvent.log_index)
    ] == [0, 1, 2]
    assert all(e.created_at is not None for e in ChainEvent.select())


def test_a_row_breaking_a_constraint_raises_instead_of_vanishing(db):
    with pytest.raises(pw.IntegrityError), db.atomic():
        _insert(ChainEvent, [_row(0, name=None)])
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
    _insert(
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
    _insert(ChainEvent, [_row(1, created_at=stamp)])

    peewees, ours = (
        e.created_at for e in ChainEvent.select().order_by(ChainEvent.log_index)
    )
    assert ours == peewees
