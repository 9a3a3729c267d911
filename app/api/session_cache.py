"""Live sessions copied into Redis, so authenticating a request costs no SQL.

The database stays the authority; Redis holds copies that expire with their
sessions. A copy is written only where none exists (``SET NX``) and ending a
session overwrites it with a tombstone before the row is deleted, so a
lookup racing a log-out cannot bring the session back. Losing Redis loses
only copies: the next lookup reads the database again.

A copy is ``"<id> <wallet> <chain id> <expiry in epoch µs>"``: plain text,
so the rate-limit script (``app.api.counters``) can read the wallet from it
in the same round trip as the counts.
"""

from __future__ import annotations

import datetime as dt

from redis import Redis

from app.sessions import SessionInfo, digest

REVOKED = b"revoked"
_PREFIX = "epns-api:session:"
_EPOCH = dt.datetime(1970, 1, 1)
_US = dt.timedelta(microseconds=1)


def key(token: str) -> str:
    """Where the copy of the session ``token`` names is kept."""
    return _PREFIX + digest(token)


def encode(info: SessionInfo) -> str:
    return f"{info.id} {info.wallet} {info.chain_id} {_epoch_us(info.expires_at)}"


def decode(value: bytes) -> SessionInfo:
    """A copy read back (never the tombstone: callers test for it first)."""
    number, wallet, chain_id, expires_us = value.decode().split(" ")
    expires_at = _EPOCH + int(expires_us) * _US
    return SessionInfo(int(number), wallet, int(chain_id), expires_at)


class SessionCache:
    """Copies of live sessions in one Redis, keyed by their token's hash."""

    def __init__(self, redis: Redis):
        self._redis = redis

    def get(self, token: str) -> bytes | None:
        """The copy or tombstone for ``token``; None when Redis has neither."""
        return self._redis.get(key(token))

    def fill(self, token: str, info: SessionInfo) -> None:
        """Copy a session just read from the database, unless one is there."""
        self._redis.set(
            key(token), encode(info), pxat=_epoch_us(info.expires_at) // 1000, nx=True
        )

    def revoke(self, token: str, info: SessionInfo) -> None:
        """Mark the session ended, for as long as it would have lived."""
        self._redis.set(key(token), REVOKED, pxat=_epoch_us(info.expires_at) // 1000)


def _epoch_us(moment: dt.datetime) -> int:
    """Microseconds since the epoch of a naive UTC datetime."""
    return (moment - _EPOCH) // _US
