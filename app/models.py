"""Tables of the push server, the same on MySQL and SQLite.

Models import nothing from the app but the database proxy. Addresses are
stored lower-case ``0x`` hex (see ``app.addresses``); hashes lower-case
``0x`` hex; times UTC.
"""

from __future__ import annotations

import datetime as dt
import enum

import peewee as pw

from app.db import database


def utcnow() -> dt.datetime:
    """Naive UTC, in whole seconds: MySQL's DATETIME keeps no fraction, so
    a time we store, compare or tell a client is the same on both databases."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Platform(enum.StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


class ChannelState(enum.StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    BLOCKED = "blocked"
    DESTROYED = "destroyed"


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    DISPATCHED = "dispatched"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class DeliveryStatus(enum.StrEnum):
    CLAIMED = "claimed"
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    FAILED = "failed"


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class DeviceToken(BaseModel):
    wallet = pw.CharField(max_length=42, index=True)
    token = pw.CharField(max_length=255, unique=True)
    platform = pw.CharField(max_length=16)
    voip_token = pw.CharField(max_length=255, null=True)
    app_id = pw.CharField(max_length=64, default="default")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    last_success_at = pw.DateTimeField(null=True)


class SignInNonce(BaseModel):
    """A nonce handed out for one Sign-In with Ethereum message."""

    nonce = pw.CharField(max_length=32, unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(index=True)


class ApiSession(BaseModel):
    """A bearer session bound to one wallet; only the token's hash is kept."""

    token_hash = pw.CharField(max_length=64, unique=True)
    wallet = pw.CharField(max_length=42, index=True)
    chain_id = pw.BigIntegerField()
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(index=True)


class RemovedToken(BaseModel):
    """Why a token was deleted: kept so a removal can be explained later."""

    token_suffix = pw.CharField(max_length=16)
    wallet = pw.CharField(max_length=42, index=True)
    platform = pw.CharField(max_length=16)
    reason = pw.CharField(max_length=64)
    notification_id = pw.BigIntegerField(null=True)
    removed_at = pw.DateTimeField(default=utcnow)


class Channel(BaseModel):
    chain_id = pw.BigIntegerField()
    address = pw.CharField(max_length=42)
    channel_type = pw.SmallIntegerField(null=True)
    state = pw.CharField(max_length=16, default=ChannelState.ACTIVE)
    identity = pw.TextField(null=True)
    name = pw.CharField(max_length=255, null=True)
    info = pw.TextField(null=True)
    url = pw.CharField(max_length=512, null=True)
    icon = pw.TextField(null=True)
    verified = pw.BooleanField(default=False)
    # On chains without Core, a channel exists through an alias of its
    # Ethereum address (ChannelAlias on the Comm contract).
    alias_of = pw.CharField(max_length=42, null=True)
    # The identity that name, info, url and icon were read from: when the
    # channel's identity changes, dispatch reads its IPFS meta again.
    meta_identity = pw.TextField(null=True)
    block_number = pw.BigIntegerField(default=0)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("chain_id", "address"), True),)


class Delegate(BaseModel):
    chain_id = pw.BigIntegerField()
    channel = pw.CharField(max_length=42)
    delegate = pw.CharField(max_length=42)
    block_number = pw.BigIntegerField(default=0)

    class Meta:
        indexes = ((("chain_id", "channel", "delegate"), True),)


class Subscription(BaseModel):
    chain_id = pw.BigIntegerField()
    channel = pw.CharField(max_length=42)
    subscriber = pw.CharField(max_length=42)
    active = pw.BooleanField(default=True)
    block_number = pw.BigIntegerField(default=0)

    class Meta:
        indexes = (
            (("chain_id", "channel", "subscriber"), True),
            (("chain_id", "channel", "active"), False),
        )


class PublicKey(BaseModel):
    owner = pw.CharField(max_length=42, unique=True)
    public_key = pw.TextField()
    chain_id = pw.BigIntegerField()
    block_number = pw.BigIntegerField(default=0)


class ChainEvent(BaseModel):
    """Every decoded log, kept until final so a reorg can undo its effects."""

    chain_id = pw.BigIntegerField()
    block_number = pw.BigIntegerField()
    block_hash = pw.CharField(max_length=66)
    tx_hash = pw.CharField(max_length=66)
    log_index = pw.IntegerField()
    contract = pw.CharField(max_length=42)
    name = pw.CharField(max_length=64)
    args = pw.TextField()
    # JSON list of the rows this event changed, as they were before it, so
    # a reorg can put them back (see poller.effects).
    undo = pw.TextField(null=True)
    # When the row was written, so pruning can keep recent history.
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("chain_id", "tx_hash", "log_index"), True),
            (("chain_id", "block_number"), False),
        )


class Notification(BaseModel):
    """The outbox: one row per SendNotification log."""

    chain_id = pw.BigIntegerField()
    tx_hash = pw.CharField(max_length=66)
    log_index = pw.IntegerField()
    block_number = pw.BigIntegerField()
    block_hash = pw.CharField(max_length=66)
    channel = pw.CharField(max_length=42)
    recipient = pw.CharField(max_length=42)
    identity = pw.BlobField()
    status = pw.CharField(max_length=16, default=NotificationStatus.PENDING)
    reason = pw.CharField(max_length=255, null=True)
    created_at = pw.DateTimeField(default=utcnow)
    dispatched_at = pw.DateTimeField(null=True)
    # The transaction's sender when the poller knows it: dispatch checks it
    # is the channel or a delegate. The resolved payload is kept so push
    # batches never fetch it again.
    sender = pw.CharField(max_length=42, null=True)
    payload = pw.TextField(null=True)

    class Meta:
        indexes = (
            (("chain_id", "tx_hash", "log_index"), True),
            (("status", "id"), False),
            (("chain_id", "block_number"), False),
        )


class Delivery(BaseModel):
    """The ledger that keeps a device from getting a notification twice."""

    notification = pw.ForeignKeyField(Notification, on_delete="CASCADE")
    token = pw.CharField(max_length=255)
    platform = pw.CharField(max_length=16)
    app_id = pw.CharField(max_length=64, default="default")
    status = pw.CharField(max_length=16, default=DeliveryStatus.CLAIMED)
    attempts = pw.IntegerField(default=0)
    last_error = pw.CharField(max_length=255, null=True)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("notification", "token"), True),)


class Checkpoint(BaseModel):
    chain_id = pw.BigIntegerField(primary_key=True)
    block_number = pw.BigIntegerField()
    block_hash = pw.CharField(max_length=66)
    # JSON list of [number, hash] of recently processed blocks, for reorgs.
    recent = pw.TextField(default="[]")
    # Newest head the poller saw, so readiness can report lag from any process.
    head_block = pw.BigIntegerField(null=True)
    updated_at = pw.DateTimeField(default=utcnow)


ALL_MODELS = [
    DeviceToken,
    SignInNonce,
    ApiSession,
    RemovedToken,
    Channel,
    Delegate,
    Subscription,
    PublicKey,
    ChainEvent,
    Notification,
    Delivery,
    Checkpoint,
]
