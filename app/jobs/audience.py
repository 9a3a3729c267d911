"""Who may send, and who receives: channel checks, audience, device tokens.

The Comm contract emits SendNotification for any address, blocked and
destroyed channels included, and the signature path lets anyone emit a
log naming any channel with themselves as recipient. So a notification
reaches its audience only from a known, active channel, and a log can
only ever narrow its audience, never widen it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import peewee as pw

from app.addresses import InvalidAddress, normalize_address
from app.jobs.identity import Skip
from app.jobs.messages import ChannelInfo
from app.jobs.payload import BROADCAST, SUBSET, Payload
from app.models import (
    Channel,
    ChannelState,
    Delegate,
    DeviceToken,
    Notification,
    Subscription,
)

log = logging.getLogger(__name__)

_CHUNK = 500


@dataclass(frozen=True)
class Device:
    token: str
    platform: str
    app_id: str


def check_channel(notification: Notification) -> ChannelInfo:
    """The channel, if it may send this notification; else Skip."""
    channel = Channel.get_or_none(
        (Channel.chain_id == notification.chain_id)
        & (Channel.address == notification.channel)
    )
    if channel is None:
        raise Skip(f"refused: {notification.channel} is not a known channel")
    state = _effective_state(channel)
    if state != ChannelState.ACTIVE:
        raise Skip(f"refused: channel {notification.channel} is {state}")

    sender = notification.sender
    if sender and sender != channel.address and not _is_delegate(channel, sender):
        raise Skip(f"refused: sender {sender} is neither the channel nor a delegate")
    return ChannelInfo(channel.address, channel.name or "", channel.icon, channel.url)


def channel_info(notification: Notification) -> ChannelInfo:
    """Name and icon for display, without the checks (already passed)."""
    channel = Channel.get_or_none(
        (Channel.chain_id == notification.chain_id)
        & (Channel.address == notification.channel)
    )
    if channel is None:
        return ChannelInfo(notification.channel, "")
    return ChannelInfo(channel.address, channel.name or "", channel.icon, channel.url)


def audience_wallets(notification: Notification, payload: Payload) -> list[str]:
    """Subscribed wallets the notification is for, normalised."""
    chain, channel = notification.chain_id, notification.channel
    recipient = notification.recipient
    from_channel = recipient == channel

    if payload.type == BROADCAST and from_channel:
        return _subscribers(chain, channel)
    if payload.type == SUBSET and from_channel:
        return _subscribed(chain, channel, _normalised(payload.recipients))
    if payload.type in (BROADCAST, SUBSET):
        # A broadcast or subset whose recipient is not the channel came from
        # the signature path: it may only reach the address it names.
        log.info("notification %s narrowed to its recipient", notification.id)
    return _subscribed(chain, channel, [recipient])


def devices_of(wallets: Iterable[str]) -> list[Device]:
    wallets = list(dict.fromkeys(wallets))
    found: list[Device] = []
    for start in range(0, len(wallets), _CHUNK):
        chunk = wallets[start : start + _CHUNK]
        query = (
            DeviceToken.select(
                DeviceToken.token, DeviceToken.platform, DeviceToken.app_id
            )
            .where(DeviceToken.wallet.in_(chunk))
            .tuples()
        )
        found.extend(Device(*row) for row in query)
    return found


def broadcast_devices(chain_id: int, channel: str) -> pw.Select:
    """Every device of every active subscriber, as one join: (token, platform, app).

    A broadcast may reach 100,000s of devices: the ledger claims them with
    this query inside the database instead of reading them into the worker.
    """
    return (
        DeviceToken.select(DeviceToken.token, DeviceToken.platform, DeviceToken.app_id)
        .join(Subscription, on=(Subscription.subscriber == DeviceToken.wallet))
        .where(
            (Subscription.chain_id == chain_id)
            & (Subscription.channel == channel)
            & (Subscription.active == True)  # noqa: E712
        )
    )


def _effective_state(channel: Channel) -> str:
    """On chains without Core a channel lives through its Ethereum alias."""
    if channel.state != ChannelState.ACTIVE or not channel.alias_of:
        return channel.state
    origin = (
        Channel.select(Channel.state)
        .where((Channel.address == channel.alias_of) & Channel.alias_of.is_null())
        .first()
    )
    return origin.state if origin else ChannelState.ACTIVE


def _is_delegate(channel: Channel, sender: str) -> bool:
    return (
        Delegate.select()
        .where(
            (Delegate.chain_id == channel.chain_id)
            & (Delegate.channel == channel.address)
            & (Delegate.delegate == sender)
        )
        .exists()
    )


def _subscribers(chain_id: int, channel: str) -> list[str]:
    query = Subscription.select(Subscription.subscriber).where(
        (Subscription.chain_id == chain_id)
        & (Subscription.channel == channel)
        & (Subscription.active == True)  # noqa: E712
    )
    return [row.subscriber for row in query]


def _subscribed(chain_id: int, channel: str, wallets: list[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(wallets), _CHUNK):
        chunk = wallets[start : start + _CHUNK]
        query = Subscription.select(Subscription.subscriber).where(
            (Subscription.chain_id == chain_id)
            & (Subscription.channel == channel)
            & (Subscription.active == True)  # noqa: E712
            & (Subscription.subscriber.in_(chunk))
        )
        found.extend(row.subscriber for row in query)
    return found


def _normalised(addresses: Iterable[str]) -> list[str]:
    wallets = []
    for address in addresses:
        try:
            wallets.append(normalize_address(address))
        except InvalidAddress as exc:
            log.info("subset recipient %r ignored: %s", address[:60], exc)
    return list(dict.fromkeys(wallets))
