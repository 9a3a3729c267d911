"""Multi-row INSERTs that skip existing keys, built by hand.

A backfill stores tens of thousands of rows a second; peewee's query
builder and PyMySQL's escaping of each value cost more than the database
does at that rate, so the statements are written out here, with literals
from ``poller.sql_values``, and hold to what peewee would store (defaults
included; the tests compare both).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import peewee as pw

from app.db import database, is_mysql
from app.models import Notification, NotificationStatus, utcnow
from poller.decode import Event
from poller.sql_values import Values, plain

INSERT_CHUNK = 2000
NOTIFICATION_COLUMNS = (
    "chain_id",
    "tx_hash",
    "log_index",
    "block_number",
    "block_hash",
    "channel",
    "recipient",
    "identity",
    "status",
    "created_at",
)


def insert_rows(model: type[pw.Model], rows: list[dict]) -> None:
    for sql, params in insert_statements(model, rows):
        database.execute_sql(sql, params)


def insert_statements(
    model: type[pw.Model], rows: list[dict]
) -> tuple[tuple[str, list], ...]:
    """Multi-row INSERTs that skip existing keys, built by hand: peewee's
    query builder and PyMySQL's escaping cost more than the database for
    tens of thousands of rows a second (``poller.sql_values``).

    Only a duplicate key is skipped. ``INSERT IGNORE`` / ``INSERT OR
    IGNORE`` would also swallow NOT NULL and other violations and drop the
    row without a word, so they are not used.
    """
    if not rows:
        return ()
    rows = _with_defaults(model, rows)
    columns = list(rows[0])
    statements = []
    for start in range(0, len(rows), INSERT_CHUNK):
        values = Values(database.obj)
        listed = values.rows(rows[start : start + INSERT_CHUNK], columns)
        statements.append((_insert_sql(model, columns, listed), values.params))
    return tuple(statements)


def _insert_sql(model: type[pw.Model], columns: Sequence[str], listed: str) -> str:
    db = database.obj
    open_q, close_q = db.quote[0], db.quote[-1]
    quoted = ", ".join(f"{open_q}{c}{close_q}" for c in columns)
    if is_mysql(db):
        first = f"{open_q}{columns[0]}{close_q}"
        skip_duplicates = f" ON DUPLICATE KEY UPDATE {first} = {first}"
    else:
        skip_duplicates = " ON CONFLICT DO NOTHING"
    return (
        f"INSERT INTO {open_q}{model._meta.table_name}{close_q} ({quoted}) "
        f"VALUES {listed}{skip_duplicates}"
    )


def _with_defaults(model: type[pw.Model], rows: list[dict]) -> list[dict]:
    """Add the model's Python-side defaults for columns the rows leave out,
    so a column added to the model later is filled here as peewee would."""
    missing = {
        f.column_name: f.default
        for f in model._meta.sorted_fields
        if f.column_name not in rows[0]
        and f.default is not None
        and not isinstance(f, pw.AutoField)
    }
    if not missing:
        return rows
    values = {k: v() if callable(v) else v for k, v in missing.items()}
    return [{**row, **values} for row in rows]


def notification_inserts(
    chain_id: int, events: Sequence[Event]
) -> tuple[tuple[str, list], ...]:
    """The INSERTs of a range's notification rows.

    When all of the range's text values are plain (one check over all of
    them at once), each row is formatted straight from its event: going
    through a dict and a literal per value took a quarter of the poller's
    CPU in a backfill. Otherwise every value goes through ``Values``. Both
    write NOTIFICATION_COLUMNS, as peewee would (a test holds them to it).
    """
    if not events:
        return ()
    now = utcnow()
    if not _formattable(events):
        return insert_statements(
            Notification, _notification_rows(chain_id, events, now)
        )

    stamp = Values(database.obj).literal(now)
    status = str(NotificationStatus.PENDING)
    rows = [
        f"({chain_id}, '{e.tx_hash}', {e.log_index}, {e.block_number}, "
        f"'{e.block_hash}', '{e.args['channel']}', '{e.args['recipient']}', "
        f"X'{e.args['identity'].hex()}', '{status}', {stamp})"
        for e in events
    ]
    return tuple(
        (
            _insert_sql(
                Notification,
                NOTIFICATION_COLUMNS,
                ", ".join(rows[start : start + INSERT_CHUNK]),
            ),
            [],
        )
        for start in range(0, len(rows), INSERT_CHUNK)
    )


def _formattable(events: Sequence[Event]) -> bool:
    texts = [
        text
        for e in events
        for text in (e.tx_hash, e.block_hash, e.args["channel"], e.args["recipient"])
    ]
    return plain(texts) and all(
        type(e.log_index) is int
        and type(e.block_number) is int
        and type(e.args["identity"]) is bytes
        for e in events
    )


def _notification_rows(
    chain_id: int, events: Sequence[Event], now: dt.datetime
) -> list[dict]:
    return [
        {
            "chain_id": chain_id,
            "tx_hash": e.tx_hash,
            "log_index": e.log_index,
            "block_number": e.block_number,
            "block_hash": e.block_hash,
            "channel": e.args["channel"],
            "recipient": e.args["recipient"],
            "identity": e.args["identity"],
            "status": str(NotificationStatus.PENDING),
            "created_at": now,
        }
        for e in events
    ]
