"""The RQ jobs: dispatch one notification, and send one batch of its pushes.

``dispatch_notification`` reloads the row, checks the channel, resolves the
payload and the audience, claims a ledger row per device and sends, inline
for small audiences or as ``send_batch`` jobs on the pushes queue so several
workers share a large broadcast. Both jobs are idempotent: whatever is
retried, the ledger decides what still needs sending.
"""

from __future__ import annotations

import datetime as dt
import logging

from redis import Redis
from rq import Queue, Retry, get_current_job

from app import metrics
from app.config import ConfigError
from app.db import database
from app.job_context import update_job_meta
from app.jobs import ledger
from app.jobs.audience import (
    audience_wallets,
    broadcast_devices,
    channel_info,
    check_channel,
    devices_of,
)
from app.jobs.channel_meta import refresh_meta
from app.jobs.context import current
from app.jobs.identity import Skip, parse_identity
from app.jobs.ipfs import Unavailable
from app.jobs.messages import (
    FcmBody,
    apns_body,
    apns_payload,
    collapse_id,
    fcm_message,
)
from app.jobs.payload import BROADCAST, Payload, resolve_payload
from app.jobs.sending import Messages, Tally, send_rows
from app.logs import bind, notification_ids
from app.models import Notification, NotificationStatus, utcnow
from app.queue import PUSHES, connect_redis, is_live

log = logging.getLogger(__name__)

BATCH_JOB = "app.jobs.dispatch.send_batch"
BATCH_TIMEOUT = 900


def dispatch_notification(notification_id: int) -> dict:
    """Dispatch one Notification row; a missing row is a normal outcome."""
    notification = Notification.get_or_none(Notification.id == notification_id)
    if notification is None:
        log.info("notification %s no longer exists", notification_id)
        return {"outcome": "missing"}

    with bind(**notification_ids(notification)):
        if notification.status in (
            NotificationStatus.SKIPPED,
            NotificationStatus.CANCELLED,
        ):
            return {"outcome": notification.status}

        if notification.status == NotificationStatus.PENDING:
            try:
                audience = _prepare(notification)
            except Skip as skip:
                return _skip(notification, skip.reason)
            except Unavailable as exc:
                return _unavailable(notification, str(exc))
            update_job_meta(channel=notification.channel, audience=audience)

        size = current().config.batch_size
        ranges = ledger.open_ranges(notification_id, size)
        # Once fanned out, always fanned out: a batch may still be queued or
        # in flight on another worker, and only its job may send its rows.
        if len(ranges) > 1 or ledger.batch_count(notification_id, size) > 1:
            return _fan_out(notification, ranges)
        tally = _send_range(notification, *(ranges[0] if ranges else (0, -1)))
        return _finish(notification, tally)


def send_batch(notification_id: int, first_id: int, last_id: int) -> dict:
    """Send the open ledger rows with ids in [first_id, last_id]."""
    notification = Notification.get_or_none(Notification.id == notification_id)
    if notification is None or notification.status != NotificationStatus.DISPATCHED:
        return {"outcome": "nothing to send"}

    with bind(**notification_ids(notification), batch=first_id):
        tally = _send_range(notification, first_id, last_id)
        return _finish(notification, tally, first_id, last_id)


def _prepare(notification: Notification) -> int:
    """Check, resolve and claim; returns the number of devices claimed."""
    state = current()
    channel = check_channel(notification)
    refresh_meta(notification.chain_id, notification.channel, state.ipfs)
    chain = _chain_cutover(notification.chain_id, state)
    identity = parse_identity(
        bytes(notification.identity), notification.block_number, chain
    )
    payload = resolve_payload(identity, state.ipfs.fetch, state.config.subgraph_url)
    if payload.hidden or payload.silent:
        raise Skip("hidden or silent notification: stored, not pushed")
    if payload.expired():
        raise Skip("expired (etime in the past): not pushed")

    devices = None
    if payload.type != BROADCAST or notification.recipient != notification.channel:
        devices = devices_of(audience_wallets(notification, payload))
    with database.atomic():
        if devices is None:  # a broadcast is claimed inside the database
            everyone = broadcast_devices(notification.chain_id, notification.channel)
            claimed = ledger.claim_from(notification.id, everyone)
        else:
            claimed = ledger.claim(notification.id, devices)
        Notification.update(
            status=NotificationStatus.DISPATCHED,
            payload=payload.to_json(),
            dispatched_at=utcnow(),
            reason=None,
        ).where(Notification.id == notification.id).execute()
    log.info(
        "notification %s from %s: %d devices claimed",
        notification.id,
        channel.address,
        claimed,
    )
    notification.status = NotificationStatus.DISPATCHED
    notification.payload = payload.to_json()
    metrics.NOTIFICATIONS.labels(status="dispatched").inc()
    return claimed


def _chain_cutover(chain_id: int, state) -> int:
    try:
        chains = state.settings.chains()
    except ConfigError as exc:
        log.debug("no chain configuration (%s): identities read as current", exc)
        return 0
    return next((c.identity_cutover_block for c in chains if c.chain_id == chain_id), 0)


def _send_range(notification: Notification, first_id: int, last_id: int) -> Tally:
    state = current()
    rows = ledger.open_rows(notification.id, first_id, last_id)
    if not rows:
        return Tally()
    messages = _messages(notification)
    tally = send_rows(
        notification.id,
        rows,
        messages,
        state.senders,
        state.config,
        wanted=lambda: _still_dispatched(notification.id),
    )
    if tally.defer_seconds is not None:
        _reschedule(notification.id, first_id, last_id, tally.defer_seconds)
    return tally


def _still_dispatched(notification_id: int) -> bool:
    """False once a reorg has cancelled the notification."""
    return (
        Notification.select(Notification.status)
        .where(Notification.id == notification_id)
        .scalar()
        == NotificationStatus.DISPATCHED
    )


def _messages(notification: Notification) -> Messages:
    payload = Payload.from_json(notification.payload)
    channel = channel_info(notification)
    return Messages(
        fcm=FcmBody.of(fcm_message(payload, channel, notification.id)),
        apns=apns_body(apns_payload(payload, channel, notification.id)),
        collapse_id=collapse_id(notification.id),
    )


def _fan_out(notification: Notification, ranges: list[tuple[int, int]]) -> dict:
    redis = _redis()
    queue = Queue(PUSHES, connection=redis)
    for first_id, last_id in ranges:
        job_id = f"push-{notification.id}-{first_id}"
        if is_live(redis, job_id):
            log.info("batch %s still queued or running: not queued again", job_id)
            continue
        queue.enqueue(
            BATCH_JOB,
            notification.id,
            first_id,
            last_id,
            job_id=job_id,
            description=(
                f"push notification {notification.id} "
                f"from {notification.channel}: deliveries {first_id}-{last_id}"
            ),
            job_timeout=BATCH_TIMEOUT,
            retry=Retry(max=3, interval=[10, 60, 300]),
            meta={"notification_id": notification.id, "channel": notification.channel},
        )
    log.info("notification %s split into %d push batches", notification.id, len(ranges))
    update_job_meta(batches=len(ranges))
    return {"outcome": "fanned out", "batches": len(ranges)}


def _reschedule(notification_id: int, first_id: int, last_id: int, delay: float):
    Queue(PUSHES, connection=_redis()).enqueue_in(
        _seconds(delay),
        BATCH_JOB,
        notification_id,
        first_id,
        last_id,
        description=(
            f"retry pushes of notification {notification_id} ({first_id}-{last_id})"
        ),
        job_timeout=BATCH_TIMEOUT,
    )
    log.info(
        "notification %s: remaining pushes rescheduled in %.0fs", notification_id, delay
    )


def _seconds(delay: float) -> dt.timedelta:
    return dt.timedelta(seconds=delay)


def _redis() -> Redis:
    job = get_current_job()
    return job.connection if job else connect_redis(current().settings.redis_url)


def _finish(notification, tally: Tally, first_id: int = 0, last_id: int = 0) -> dict:
    result = {
        "notification_id": notification.id,
        "channel": notification.channel,
        "sent": tally.sent,
        "failed": tally.failed,
        "removed": tally.removed,
        "retried": tally.retried,
    }
    update_job_meta(**result)
    log.info(
        "notification %s: sent %d, failed %d, removed %d",
        notification.id,
        tally.sent,
        tally.failed,
        tally.removed,
    )
    return result


def _skip(notification: Notification, reason: str) -> dict:
    Notification.update(status=NotificationStatus.SKIPPED, reason=reason[:255]).where(
        Notification.id == notification.id
    ).execute()
    metrics.NOTIFICATIONS.labels(status="skipped").inc()
    log.info("notification %s skipped: %s", notification.id, reason)
    update_job_meta(skipped=reason)
    return {"outcome": "skipped", "reason": reason}


def _unavailable(notification: Notification, why: str) -> dict:
    """Payload storage is down: let RQ retry, and skip after the last try."""
    job = get_current_job()
    if job is not None and (job.retries_left or 0) > 0:
        log.warning(
            "notification %s: payload unavailable, will retry: %s", notification.id, why
        )
        raise Unavailable(why)
    return _skip(notification, f"payload unavailable: {why}")
