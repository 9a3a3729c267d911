"""The delivery ledger: one row per (notification, device), claimed first.

Rows are created for the whole audience before anything is sent, and each
send attempt bumps ``attempts`` before the request leaves. A retried or
resumed batch therefore sends only rows not yet delivered, and a device
whose answer was lost in a crash is resent with the same collapse id, which
the services use to show it once.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import peewee as pw

from app.addresses import short
from app.db import database, is_mysql
from app.jobs.audience import Device
from app.jobs.outcomes import Kind, Outcome
from app.models import Delivery, DeliveryStatus, DeviceToken, RemovedToken, utcnow

log = logging.getLogger(__name__)

_CHUNK = 500
# Ids are written into the statement (they are ints we read), so a window
# of rows takes one statement and no bound parameters.
_ID_CHUNK = 1000
OPEN = (DeliveryStatus.CLAIMED, DeliveryStatus.RETRY)
_CLAIMED = DeliveryStatus.CLAIMED.value
_STATUS = {
    Kind.DELIVERED: DeliveryStatus.DELIVERED,
    Kind.DEAD: DeliveryStatus.DEAD,
    Kind.FAILED: DeliveryStatus.FAILED,
    Kind.AUTH: DeliveryStatus.FAILED,
    Kind.RETRY: DeliveryStatus.RETRY,
}


@dataclass(slots=True)
class Row:
    """An open ledger row, as the sender needs it: cheaper than a model."""

    id: int
    token: str
    platform: str
    app_id: str
    attempts: int


def claim(notification_id: int, devices: Iterable[Device]) -> int:
    """Create the ledger rows; rows that already exist are left as they are.

    Plain ``executemany``: building 150,000 rows through the query builder
    took longer than sending them.
    """
    ignore = "INSERT IGNORE" if is_mysql() else "INSERT OR IGNORE"
    param = database.param
    sql = (
        f"{ignore} INTO delivery "
        "(notification_id, token, platform, app_id, status, attempts, updated_at) "
        f"VALUES ({', '.join([param] * 7)})"
    )
    now = utcnow()
    cursor = database.cursor()
    claimed = 0
    devices = iter(devices)
    while chunk := list(itertools.islice(devices, 5000)):
        rows = [
            (notification_id, d.token, d.platform, d.app_id, _CLAIMED, 0, now)
            for d in chunk
        ]
        cursor.executemany(sql, rows)
        claimed += len(rows)
    return claimed


def claim_from(notification_id: int, devices: pw.Select) -> int:
    """Create the ledger rows of a (token, platform, app id) query, in the database.

    A broadcast's audience never passes through the worker: one
    ``INSERT … SELECT`` writes its rows, existing rows are left as they are.
    """
    rows = devices.select(
        pw.Value(notification_id),
        *devices.selected_columns,
        pw.Value(_CLAIMED),
        pw.Value(0),
        pw.Value(utcnow()),
    )
    fields = [
        Delivery.notification,
        Delivery.token,
        Delivery.platform,
        Delivery.app_id,
        Delivery.status,
        Delivery.attempts,
        Delivery.updated_at,
    ]
    return (
        Delivery.insert_from(rows, fields).on_conflict_ignore().as_rowcount().execute()
    )


def open_ranges(notification_id: int, size: int) -> list[tuple[int, int]]:
    """The push batches of a notification that still have open rows.

    Batches are inclusive id ranges of ``size`` ledger rows, open or not, so
    a batch keeps its bounds (and its job id) for the notification's life:
    a dispatch run again after fanning out names the same batches, and can
    see which of them are still queued or being sent.
    """
    rows = list(
        Delivery.select(Delivery.id, Delivery.status)
        .where(Delivery.notification == notification_id)
        .order_by(Delivery.id)
        .tuples()
    )
    batches = [rows[i : i + size] for i in range(0, len(rows), size)]
    return [
        (batch[0][0], batch[-1][0])
        for batch in batches
        if any(status in OPEN for _, status in batch)
    ]


def batch_count(notification_id: int, size: int) -> int:
    """How many push batches the notification's audience makes."""
    rows = Delivery.select().where(Delivery.notification == notification_id).count()
    return -(-rows // size)


def open_rows(notification_id: int, first_id: int, last_id: int) -> list[Row]:
    query = (
        Delivery.select(
            Delivery.id,
            Delivery.token,
            Delivery.platform,
            Delivery.app_id,
            Delivery.attempts,
        )
        .where(
            (Delivery.notification == notification_id)
            & Delivery.id.between(first_id, last_id)
            & Delivery.status.in_(OPEN)
        )
        .order_by(Delivery.id)
        .tuples()
    )
    return [Row(*columns) for columns in query]


def start_attempt(rows: Sequence[Row]) -> None:
    """Count the attempt before sending, so even a crash loop stays bounded."""
    now = utcnow()
    for ids in _id_lists([r.id for r in rows]):
        database.execute_sql(
            "UPDATE delivery SET attempts = attempts + 1, "
            f"updated_at = {database.param} WHERE id IN ({ids})",
            (now,),
        )
    for row in rows:
        row.attempts += 1


def record(notification_id: int, results: Iterable[tuple[Row, Outcome]]) -> None:
    """Store every outcome of a window and remove the tokens proved dead.

    One statement per outcome kind and reason, one per 500 delivered
    tokens: statements built by hand, as the query builder's cost per
    value was most of the worker's time outside the network.
    """
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    dead: list[tuple[Row, Outcome]] = []
    delivered: list[str] = []
    for row, outcome in results:
        status = _STATUS[outcome.kind].value
        groups[(status, outcome.reason[:255])].append(row.id)
        if outcome.kind == Kind.DEAD:
            dead.append((row, outcome))
        elif outcome.kind == Kind.DELIVERED:
            delivered.append(row.token)

    now = utcnow()
    p = database.param
    with database.atomic():
        for (status, reason), ids in groups.items():
            for chunk in _id_lists(ids):
                database.execute_sql(
                    f"UPDATE delivery SET status = {p}, last_error = {p}, "
                    f"updated_at = {p} WHERE id IN ({chunk})",
                    (status, reason or None, now),
                )
        for chunk in _chunks(delivered):
            database.execute_sql(
                f"UPDATE device_token SET last_success_at = {p} "
                f"WHERE token IN ({', '.join([p] * len(chunk))})",
                (now, *chunk),
            )
        _remove(notification_id, dead, now)


def _remove(notification_id: int, dead: list[tuple[Row, Outcome]], now) -> None:
    if dead:
        reasons = {row.token: outcome.reason for row, outcome in dead}
        remove_tokens(reasons, notification_id, now)


def remove_tokens(
    reasons: dict[str, str], notification_id: int | None, now=None
) -> None:
    """Delete tokens a service proved dead, keeping why in ``removed_token``."""
    now = now or utcnow()
    for chunk in _chunks(list(reasons)):
        owners = list(
            DeviceToken.select(
                DeviceToken.token, DeviceToken.wallet, DeviceToken.platform
            )
            .where(DeviceToken.token.in_(chunk))
            .tuples()
        )
        if not owners:
            continue
        RemovedToken.insert_many(
            [
                {
                    "token_suffix": token[-16:],
                    "wallet": wallet,
                    "platform": platform,
                    "reason": reasons[token][:64],
                    "notification_id": notification_id,
                    "removed_at": now,
                }
                for token, wallet, platform in owners
            ]
        ).execute()
        DeviceToken.delete().where(DeviceToken.token.in_(chunk)).execute()
        for token, wallet, _ in owners:
            log.info(
                "token %s of %s removed: %s (notification %s)",
                short(token),
                wallet,
                reasons[token],
                notification_id,
            )


def _id_lists(ids: list[int]) -> Iterable[str]:
    """Comma-separated ids, ``_ID_CHUNK`` at a time; int() keeps them inert."""
    for start in range(0, len(ids), _ID_CHUNK):
        yield ", ".join(str(int(i)) for i in ids[start : start + _ID_CHUNK])


def _chunks(items: list) -> Iterable[list]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
