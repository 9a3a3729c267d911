"""Operator actions behind ``flask epns ...``: checkpoints, re-dispatch, pruning.

Each action is a function the CLI calls, so the rules (a reset only
rewinds, a cancelled notification is never re-sent, only finished rows are
pruned) hold however the action is started.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

import requests
from redis import Redis

from app.addresses import normalize_address
from app.config import ChainConfig, Settings
from app.db import database
from app.logs import redact_url
from app.models import (
    ApiSession,
    ChainEvent,
    Checkpoint,
    Delivery,
    DeviceToken,
    Notification,
    NotificationStatus,
    utcnow,
)
from app.queue import enqueue_notification
from app.session_cache import SessionCache

log = logging.getLogger(__name__)

FINISHED = (
    NotificationStatus.DISPATCHED,
    NotificationStatus.SKIPPED,
    NotificationStatus.CANCELLED,
)
_BATCH = 500
_RPC_TIMEOUT = 10


class AdminError(RuntimeError):
    """The action was refused; the message says why."""


@dataclass
class PruneResult:
    notifications: int = 0
    deliveries: int = 0
    chain_events: int = 0


def checkpoints() -> list[Checkpoint]:
    return list(Checkpoint.select().order_by(Checkpoint.chain_id))


def reset_checkpoint(
    settings: Settings, chain_id: int, to_block: int | None
) -> Checkpoint | None:
    """Rewind a chain's checkpoint, or delete it to restart at start_block.

    The stored hash is read from the chain, so the poller's canonical-hash
    check passes at the new position. Rows already stored are kept; the
    poller's unique keys make re-scanning them harmless. Moving forward is
    refused: it would skip events for good.
    """
    row = Checkpoint.get_or_none(Checkpoint.chain_id == chain_id)
    if to_block is None:
        Checkpoint.delete().where(Checkpoint.chain_id == chain_id).execute()
        log.warning("checkpoint of chain %s deleted", chain_id)
        return None

    if row is not None and to_block > row.block_number:
        raise AdminError(
            f"chain {chain_id}: reset only rewinds "
            f"(checkpoint {row.block_number}, asked {to_block})"
        )
    block_hash = fetch_block_hash(_chain(settings, chain_id), to_block)

    fields = {
        "block_number": to_block,
        "block_hash": block_hash,
        "recent": json.dumps([[to_block, block_hash]]),
        "updated_at": utcnow(),
    }
    with database.atomic():
        if row is None:
            Checkpoint.create(chain_id=chain_id, **fields)
        else:
            Checkpoint.update(**fields).where(Checkpoint.chain_id == chain_id).execute()
    log.warning("checkpoint of chain %s reset to block %s", chain_id, to_block)
    return Checkpoint.get_by_id(chain_id)


def fetch_block_hash(chain: ChainConfig, number: int) -> str:
    """The hash of block ``number``, from the first RPC URL that answers."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_getBlockByNumber",
        "params": [hex(number), False],
    }
    failures = []
    for url in chain.rpc_urls:
        try:
            response = requests.post(url, json=body, timeout=_RPC_TIMEOUT)
            response.raise_for_status()
            block = response.json().get("result")
        except (requests.RequestException, ValueError) as exc:
            failures.append(f"{redact_url(url)}: {type(exc).__name__}")
            continue
        if block is None:
            raise AdminError(f"chain {chain.chain_id}: no block {number} yet")
        return block["hash"]
    raise AdminError(f"chain {chain.chain_id}: no RPC answered ({'; '.join(failures)})")


def redispatch(redis: Redis, notification_id: int) -> bool:
    """Mark a notification pending again and queue its dispatch job.

    Devices that already received it are not sent it again: the delivery
    ledger keeps them. Returns False when a job for it was already queued.
    """
    row = Notification.get_or_none(Notification.id == notification_id)
    if row is None:
        raise AdminError(f"no notification {notification_id}")
    if row.status == NotificationStatus.CANCELLED:
        raise AdminError(
            f"notification {notification_id} was cancelled by a reorg: "
            "its block is no longer canonical"
        )

    # Pending first: if the enqueue fails, the row is still picked up again.
    Notification.update(
        status=NotificationStatus.PENDING, reason=None, dispatched_at=None
    ).where(Notification.id == notification_id).execute()
    queued = enqueue_notification(redis, notification_id)
    log.info("notification %s re-dispatched (queued=%s)", notification_id, queued)
    return queued


def wallet_devices(wallet: str) -> list[DeviceToken]:
    address = normalize_address(wallet)
    return list(
        DeviceToken.select()
        .where(DeviceToken.wallet == address)
        .order_by(DeviceToken.id)
    )


def end_sessions(redis: Redis, wallet: str) -> int:
    """End every session of ``wallet`` (a stolen token, a lost phone).

    Each session's Redis copy is tombstoned before its row goes, as a
    log-out does: deleting the rows alone would leave the copies working
    until they expire."""
    address = normalize_address(wallet)
    rows = list(ApiSession.select().where(ApiSession.wallet == address))
    cache = SessionCache(redis)
    for row in rows:
        cache.revoke_hash(row.token_hash, row.expires_at)
    ended = (
        ApiSession.delete().where(ApiSession.id.in_([row.id for row in rows])).execute()
        if rows
        else 0
    )
    log.warning("ended %d session(s) of %s by operator command", ended, address)
    return ended


def prune(days: int, dry_run: bool = False) -> PruneResult:
    """Delete finished notifications and final chain events older than ``days``.

    Pending notifications are never pruned, whatever their age, and a chain
    event is kept until it is below its chain's checkpoint.
    """
    cutoff = utcnow() - dt.timedelta(days=days)
    result = PruneResult()
    old = Notification.select(Notification.id).where(
        Notification.status.in_(FINISHED), Notification.created_at < cutoff
    )
    if dry_run:
        result.notifications = old.count()
        result.deliveries = (
            Delivery.select().where(Delivery.notification.in_(old)).count()
        )
    else:
        _prune_notifications(old, result)

    for checkpoint in checkpoints():
        events = ChainEvent.select(ChainEvent.id).where(
            ChainEvent.chain_id == checkpoint.chain_id,
            ChainEvent.block_number < checkpoint.block_number,
            ChainEvent.created_at < cutoff,
        )
        result.chain_events += events.count() if dry_run else _prune_ids(events)
    log.info("prune older than %s days (dry run %s): %s", days, dry_run, result)
    return result


def _prune_notifications(query, result: PruneResult) -> None:
    # Batches keep each transaction, and the locks it holds, short.
    while ids := [row.id for row in query.limit(_BATCH)]:
        with database.atomic():
            result.deliveries += (
                Delivery.delete().where(Delivery.notification.in_(ids)).execute()
            )
            result.notifications += (
                Notification.delete().where(Notification.id.in_(ids)).execute()
            )


def _prune_ids(query) -> int:
    deleted = 0
    while ids := [row.id for row in query.limit(_BATCH)]:
        with database.atomic():
            deleted += ChainEvent.delete().where(ChainEvent.id.in_(ids)).execute()
    return deleted


def _chain(settings: Settings, chain_id: int) -> ChainConfig:
    for chain in settings.chains():
        if chain.chain_id == chain_id:
            return chain
    raise AdminError(f"chain {chain_id} is not configured")
