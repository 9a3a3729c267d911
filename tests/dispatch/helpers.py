"""Rows the poller would have written, made directly for dispatch tests."""

from __future__ import annotations

import itertools
import json

from app.models import Channel, Delegate, DeviceToken, Notification, Subscription

CHAIN = 31337
CHANNEL = "0x" + "c1" * 20
_counter = itertools.count(1)


def wallet(n: int) -> str:
    return "0x" + f"{n:040x}"


def make_channel(
    address: str = CHANNEL, state: str = "active", name: str = "Test Channel"
) -> Channel:
    return Channel.create(chain_id=CHAIN, address=address, state=state, name=name)


def subscribe(wallets: list[str], channel: str = CHANNEL) -> None:
    rows = [
        {"chain_id": CHAIN, "channel": channel, "subscriber": w, "active": True}
        for w in wallets
    ]
    for start in range(0, len(rows), 500):
        Subscription.insert_many(rows[start : start + 500]).execute()


def register(owner: str, token: str, platform: str = "ios", app_id: str = "default"):
    DeviceToken.create(wallet=owner, token=token, platform=platform, app_id=app_id)


def register_many(rows: list[tuple[str, str, str]]) -> None:
    data = [{"wallet": w, "token": t, "platform": p} for w, t, p in rows]
    for start in range(0, len(data), 500):
        DeviceToken.insert_many(data[start : start + 500]).execute()


def add_delegate(delegate: str, channel: str = CHANNEL) -> None:
    Delegate.create(chain_id=CHAIN, channel=channel, delegate=delegate)


def direct(
    ntype: str = "1", title: str = "Hello", body: str = "World", **data
) -> bytes:
    doc = {
        "notification": {"title": title, "body": body},
        "data": {"type": ntype, **data},
    }
    recipients = data.pop("recipients", None)
    if recipients is not None:
        doc["data"].pop("recipients")
        doc["recipients"] = recipients
    return b"2+" + json.dumps(doc).encode()


def notify(
    identity: bytes,
    recipient: str = CHANNEL,
    channel: str = CHANNEL,
    tx: str | None = None,
    log_index: int = 0,
    sender: str | None = None,
    block: int = 100,
) -> Notification:
    n = next(_counter)
    return Notification.create(
        chain_id=CHAIN,
        tx_hash=tx or "0x" + f"{n:064x}",
        log_index=log_index,
        block_number=block,
        block_hash="0x" + "ab" * 32,
        channel=channel,
        recipient=recipient,
        identity=identity,
        sender=sender,
    )


def tokens(n: int, prefix: str = "tok") -> list[str]:
    return [f"{prefix}{i:060x}" for i in range(n)]
