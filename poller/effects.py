"""What each EPNS event does to the channel, subscription, delegate and key
tables, and how to take it back.

Every change first records the row as it was (or that it did not exist).
The records travel with the event into ``chain_event.undo``; a reorg
replays them newest first, which restores each row to its state before the
orphaned blocks however many times they touched it. Notifications are not
handled here: they are bulk-inserted by ``poller.store``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable

import peewee as pw

from app.addresses import InvalidAddress, normalize_address
from app.models import (
    Channel,
    ChannelState,
    Delegate,
    PublicKey,
    Subscription,
    utcnow,
)
from poller.decode import Event, channel_address

log = logging.getLogger(__name__)

TABLES: dict[str, type[pw.Model]] = {
    "channel": Channel,
    "subscription": Subscription,
    "delegate": Delegate,
    "public_key": PublicKey,
}

Undo = list[dict]


def identity_text(value: bytes) -> str:
    """Identity bytes as stored: UTF-8 text, or 0x hex when it is not."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + value.hex()


def apply_event(event: Event) -> Undo:
    """Apply one non-notification event; return its undo records."""
    handler = _HANDLERS.get(event.name)
    if handler is None:
        return []
    return handler(event)


def undo_records(records: Undo) -> None:
    """Put rows back as they were, newest change first (caller orders)."""
    for record in reversed(records):
        model = TABLES[record["t"]]
        key = record["k"]
        model.delete().where(*_match(model, key)).execute()
        if record["b"] is not None:
            model.insert(**record["b"]).execute()


def dump_undo(records: Undo) -> str | None:
    return (
        json.dumps(records, default=_jsonable, separators=(",", ":"))
        if records
        else None
    )


def _jsonable(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"cannot store {type(value).__name__} in an undo record")


def _match(model: type[pw.Model], key: dict) -> list:
    return [getattr(model, name) == value for name, value in key.items()]


def _snapshot(table: str, key: dict) -> dict:
    model = TABLES[table]
    before = model.select().where(*_match(model, key)).dicts().first()
    return {"t": table, "k": key, "b": before}


def _channel_of(event: Event, name: str = "channel") -> str | None:
    address = channel_address(event.args[name])
    if address is None:
        log.info(
            "chain %s: %s with non-address channel %s recorded, not applied",
            event.chain_id,
            event.name,
            event.args[name],
        )
    return address


def _set_channel(event: Event, address: str, **fields: object) -> Undo:
    key = {"chain_id": event.chain_id, "address": address}
    record = _snapshot("channel", key)
    fields.update(block_number=event.block_number, updated_at=utcnow())
    if record["b"] is None:
        Channel.insert(**key, **fields).execute()
    else:
        Channel.update(**fields).where(*_match(Channel, key)).execute()
    return [record]


def _add_channel(event: Event) -> Undo:
    address = _channel_of(event)
    if address is None:
        return []
    return _set_channel(
        event,
        address,
        channel_type=event.args.get("channelType"),
        identity=identity_text(event.args["identity"]),
        state=ChannelState.ACTIVE,
    )


def _update_channel(event: Event) -> Undo:
    address = _channel_of(event)
    if address is None:
        return []
    return _set_channel(event, address, identity=identity_text(event.args["identity"]))


def _state(state: ChannelState) -> Callable[[Event], Undo]:
    def handler(event: Event) -> Undo:
        address = _channel_of(event)
        return [] if address is None else _set_channel(event, address, state=state)

    return handler


def _verified(value: bool) -> Callable[[Event], Undo]:
    def handler(event: Event) -> Undo:
        address = _channel_of(event)
        return [] if address is None else _set_channel(event, address, verified=value)

    return handler


def _subscription(active: bool) -> Callable[[Event], Undo]:
    def handler(event: Event) -> Undo:
        key = {
            "chain_id": event.chain_id,
            "channel": event.args["channel"],
            "subscriber": event.args["user"],
        }
        record = _snapshot("subscription", key)
        fields = {"active": active, "block_number": event.block_number}
        if record["b"] is None:
            Subscription.insert(**key, **fields).execute()
        else:
            Subscription.update(**fields).where(*_match(Subscription, key)).execute()
        return [record]

    return handler


def _delegate_key(event: Event) -> dict:
    return {
        "chain_id": event.chain_id,
        "channel": event.args["channel"],
        "delegate": event.args["delegate"],
    }


def _add_delegate(event: Event) -> Undo:
    key = _delegate_key(event)
    record = _snapshot("delegate", key)
    if record["b"] is not None:
        return []
    Delegate.insert(**key, block_number=event.block_number).execute()
    return [record]


def _remove_delegate(event: Event) -> Undo:
    key = _delegate_key(event)
    record = _snapshot("delegate", key)
    if record["b"] is None:
        return []  # emitted on every call, even when nothing changed
    Delegate.delete().where(*_match(Delegate, key)).execute()
    return [record]


def _public_key(event: Event) -> Undo:
    key = {"owner": event.args["owner"]}
    record = _snapshot("public_key", key)
    fields = {
        "public_key": "0x" + event.args["publickey"].hex(),
        "chain_id": event.chain_id,
        "block_number": event.block_number,
    }
    if record["b"] is None:
        PublicKey.insert(**key, **fields).execute()
    else:
        PublicKey.update(**fields).where(PublicKey.owner == key["owner"]).execute()
    return [record]


def _alias(adding: bool) -> Callable[[Event], Undo]:
    """ChannelAlias makes a channel on a chain without Core; its own chain
    id is in the event, and aliases naming another chain are ignored."""

    def handler(event: Event) -> Undo:
        if event.args["chainID"] != event.chain_id:
            return []
        target_name = "ethereumChannelAddress" if adding else "baseChannelAddress"
        try:
            target = normalize_address(event.args[target_name])
        except InvalidAddress:
            log.info(
                "chain %s: alias to %r ignored", event.chain_id, event.args[target_name]
            )
            return []
        owner = event.args["channelOwnerAddress"]
        if adding:
            return _set_channel(
                event, owner, alias_of=target, state=ChannelState.ACTIVE
            )
        return _set_channel(event, owner, alias_of=None)

    return handler


_HANDLERS: dict[str, Callable[[Event], Undo]] = {
    "AddChannel": _add_channel,
    "ChannelCreated": _add_channel,
    "UpdateChannel": _update_channel,
    "DeactivateChannel": _state(ChannelState.DEACTIVATED),
    "ReactivateChannel": _state(ChannelState.ACTIVE),
    "ChannelBlocked": _state(ChannelState.BLOCKED),
    "TimeBoundChannelDestroyed": _state(ChannelState.DESTROYED),
    "ChannelVerified": _verified(True),
    "ChannelVerificationRevoked": _verified(False),
    "Subscribe": _subscription(True),
    "Unsubscribe": _subscription(False),
    "AddDelegate": _add_delegate,
    "RemoveDelegate": _remove_delegate,
    "PublicKeyRegistered": _public_key,
    "ChannelAlias": _alias(True),
    "RemoveChannelAlias": _alias(False),
}
