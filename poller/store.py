"""Writing a range, and unwriting orphaned blocks, each in one transaction.

A range's events, effects, notifications and the checkpoint commit
together. The checkpoint row is updated first, on the condition that it
still holds what this run read: a second runner that slipped past the lock
finds the row moved and rolls back, so a block is never applied twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import peewee as pw

from app.db import database
from app.models import (
    ChainEvent,
    Checkpoint,
    Notification,
    NotificationStatus,
    utcnow,
)
from poller.bulk_insert import insert_rows, notification_inserts
from poller.decode import Event, args_json
from poller.effects import apply_event, dump_undo, undo_records

log = logging.getLogger(__name__)

RING = 128  # recent (number, hash) pairs kept for reorg detection
REORG_REASON = "reorg"
_UNSENT = (NotificationStatus.PENDING, NotificationStatus.DISPATCHED)


class ConcurrentRun(RuntimeError):
    """The checkpoint moved under us: another runner is at work."""


@dataclass(frozen=True)
class Position:
    """Where a chain stands: last processed block and recent hashes."""

    number: int
    hash: str | None
    recent: tuple[tuple[int, str], ...] = ()
    stored: bool = False


def load_position(chain_id: int, start_block: int) -> Position:
    row = Checkpoint.get_or_none(Checkpoint.chain_id == chain_id)
    if row is None:
        return Position(start_block - 1, None)
    recent = tuple((int(n), h) for n, h in json.loads(row.recent))
    return Position(row.block_number, row.block_hash, recent, stored=True)


def record_head(chain_id: int, head: int) -> None:
    """Keep the head seen by this pass, for readiness (lag) checks elsewhere."""
    Checkpoint.update(head_block=head).where(Checkpoint.chain_id == chain_id).execute()


def advance(position: Position, new_blocks: Sequence[tuple[int, str]]) -> Position:
    """The position after processing ``new_blocks`` (ascending)."""
    recent = (*position.recent, *new_blocks)[-RING:]
    number, block_hash = new_blocks[-1]
    return Position(number, block_hash, recent, stored=True)


@dataclass(frozen=True)
class PreparedRange:
    """A range's decoded events, with the INSERTs of its notifications
    already written out (see ``prepare_range``)."""

    events: tuple[Event, ...]
    notifications: tuple[Event, ...]
    inserts: tuple[tuple[str, list], ...]


def prepare_range(chain_id: int, events: Sequence[Event]) -> PreparedRange:
    """Everything about storing a range that needs no database.

    Writing out thousands of notification rows takes as long as storing
    them, so the runner does it while the previous range commits.
    """
    notifications = tuple(e for e in events if e.name == "SendNotification")
    inserts = notification_inserts(chain_id, notifications)
    return PreparedRange(tuple(events), notifications, inserts)


def commit_range(
    chain_id: int,
    before: Position,
    after: Position,
    prepared: PreparedRange,
) -> None:
    """Store the events of (before, after] and move the checkpoint."""
    commit_ranges(chain_id, before, after, (prepared,))


def commit_ranges(
    chain_id: int,
    before: Position,
    after: Position,
    prepared: Sequence[PreparedRange],
) -> None:
    """Store the events of successive ranges (before, after] and move the
    checkpoint, in one transaction.

    A SendNotification is kept as its notification row, which holds every
    decoded argument under the same (chain, tx hash, log index) key and is
    what a reorg cancels; a second copy in chain_event would double the
    writes of a backfill for nothing.
    """
    with database.atomic():
        _move_checkpoint(chain_id, before, after)

        for part in prepared:
            rows = [
                _event_row(event, dump_undo(apply_event(event)))
                for event in part.events
                if event.name != "SendNotification"
            ]
            insert_rows(ChainEvent, rows)
            for sql, params in part.inserts:
                database.execute_sql(sql, params)
        # One look for re-mined transactions over all the ranges: a query
        # per range was a round trip per range for nothing in a backfill.
        _revive(chain_id, [event for part in prepared for event in part.notifications])


def pending_ids(
    chain_id: int, first: int | None = None, last: int | None = None
) -> list[int]:
    """Ids of notifications still waiting for dispatch, oldest first.

    A backfill asks for thousands per range, and PyMySQL parses a result
    row in Python (about 1.4 us each, under the interpreter lock the whole
    pass shares), so the ids come back joined in one value with their
    count and sum. A list the server cut short (MySQL's
    ``group_concat_max_len``) lost or shortened an id, so it misses one of
    the two, and the ids are read again row by row.
    """
    condition = (Notification.chain_id == chain_id) & (
        Notification.status == NotificationStatus.PENDING
    )
    if first is not None:
        condition &= Notification.block_number.between(first, last)
    joined = Notification.select(
        pw.fn.COUNT(Notification.id),
        pw.fn.SUM(Notification.id),
        pw.fn.GROUP_CONCAT(Notification.id),
    ).where(condition)
    sql, params = joined.sql()
    count, total, text = database.execute_sql(sql, params).fetchone()
    ids = _joined_ids(count, total, text)
    if ids is not None:
        return ids

    log.info("chain %s: %d pending ids read row by row", chain_id, count)
    sql, params = (
        Notification.select(Notification.id)
        .where(condition)
        .order_by(Notification.id)
        .sql()
    )
    return [row[0] for row in database.execute_sql(sql, params).fetchall()]


def _joined_ids(
    count: int, total: object, text: str | bytes | None
) -> list[int] | None:
    """The ids in a GROUP_CONCAT value, sorted; None unless they are
    ``count`` ids adding up to ``total``."""
    if not count:
        return []
    if isinstance(text, bytes):
        text = text.decode("ascii")
    try:
        ids = sorted(map(int, (text or "").split(",")))
    except ValueError:  # cut off before a separator, or empty
        return None
    if len(ids) != count or sum(ids) != int(total):
        return None
    return ids


def rollback_to(chain_id: int, current: Position, ancestor: Position) -> int:
    """Undo every block above ``ancestor``; return notifications cancelled."""
    with database.atomic():
        _move_checkpoint(chain_id, current, ancestor)

        orphaned = (
            ChainEvent.select(ChainEvent.undo)
            .where(
                (ChainEvent.chain_id == chain_id)
                & (ChainEvent.block_number > ancestor.number)
                & ChainEvent.undo.is_null(False)
            )
            .order_by(ChainEvent.block_number, ChainEvent.log_index)
        )
        records = [r for row in orphaned for r in json.loads(row.undo)]
        undo_records(records)

        # Dispatched ones too: their push batches may still be queued or
        # rescheduled, and each checks the status before sending.
        orphans = Notification.select(Notification.id).where(
            (Notification.chain_id == chain_id)
            & (Notification.block_number > ancestor.number)
            & Notification.status.in_(_UNSENT)
        )
        ids = [row.id for row in orphans]
        cancelled = 0
        for start in range(0, len(ids), 500):
            # Delivery rows stay as they are: if the transaction is mined
            # again, the revived notification sends the ones still open.
            cancelled += (
                Notification.update(
                    status=NotificationStatus.CANCELLED, reason=REORG_REASON
                )
                .where(Notification.id.in_(ids[start : start + 500]))
                .execute()
            )
        ChainEvent.delete().where(
            (ChainEvent.chain_id == chain_id)
            & (ChainEvent.block_number > ancestor.number)
        ).execute()
    return cancelled


def prune_final(chain_id: int, position: Position) -> int:
    """Forget decoded events too deep to be reorganised any more."""
    if len(position.recent) < RING:
        return 0
    oldest = position.recent[0][0]
    return (
        ChainEvent.delete()
        .where((ChainEvent.chain_id == chain_id) & (ChainEvent.block_number < oldest))
        .execute()
    )


def _move_checkpoint(chain_id: int, before: Position, after: Position) -> None:
    fields = {
        "block_number": after.number,
        "block_hash": after.hash or "",
        "recent": json.dumps([list(pair) for pair in after.recent]),
        "updated_at": utcnow(),
    }
    if not before.stored:
        try:
            with database.atomic():
                Checkpoint.insert(chain_id=chain_id, **fields).execute()
        except pw.IntegrityError:
            raise ConcurrentRun(
                f"chain {chain_id}: checkpoint created by another run"
            ) from None
        return

    moved = (
        Checkpoint.update(**fields)
        .where(
            (Checkpoint.chain_id == chain_id)
            & (Checkpoint.block_number == before.number)
            & (Checkpoint.block_hash == (before.hash or ""))
        )
        .execute()
    )
    if moved != 1:
        raise ConcurrentRun(
            f"chain {chain_id}: checkpoint is no longer at block {before.number}"
        )


def _event_row(event: Event, undo: str | None) -> dict:
    return {
        "chain_id": event.chain_id,
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "contract": event.contract,
        "name": event.name,
        "args": args_json(event.args),
        "undo": undo,
    }


def _revive(chain_id: int, events: Sequence[Event]) -> None:
    """A transaction orphaned by a reorg and mined again keeps its key:
    its cancelled notification becomes pending again, in its new block."""
    tx_hashes = sorted({e.tx_hash for e in events})
    if not tx_hashes:
        return
    cancelled = (
        Notification.select(
            Notification.id, Notification.tx_hash, Notification.log_index
        )
        .where(
            (Notification.chain_id == chain_id)
            & (Notification.status == NotificationStatus.CANCELLED)
            & (Notification.reason == REORG_REASON)
            & Notification.tx_hash.in_(tx_hashes)
        )
        .namedtuples()
    )
    rows = list(cancelled)
    if not rows:
        return
    by_key = {(e.tx_hash, e.log_index): e for e in events}
    for row in rows:
        event = by_key.get((row.tx_hash, row.log_index))
        if event is None:
            continue
        Notification.update(
            status=NotificationStatus.PENDING,
            reason=None,
            block_number=event.block_number,
            block_hash=event.block_hash,
        ).where(Notification.id == row.id).execute()
        log.info(
            "chain %s: notification %s re-mined in block %s, pending again",
            chain_id,
            row.id,
            event.block_number,
        )
