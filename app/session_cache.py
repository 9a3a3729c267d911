"""Live sessions copied into Redis, so authenticating a request costs no SQL.

The database stays the authority; Redis holds copies that expire with their
sessions. A copy is written only where none exists (``SET NX``). Ending a
session writes a tombstone over the copy before the row is deleted and
again after, and a lookup that made a copy from the database checks the row
is still there (``app.api.session``): a lookup racing a log-out cannot bring
the session back, even when Redis loses the first tombstone in between.
Losing Redis loses only copies: the next lookup reads the database again,
and a Redis that cannot be reached to read or make a copy is passed over.
Only a tombstone must be written: without it, ending a session fails.
Sessions end through a log-out or ``flask epns end-sessions``, never by
deleting rows alone: a copy outlives its row until it expires.

A copy is ``"<id> <wallet> <chain id> <expiry in epoch µs>"``: plain text,
so the rate-limit script (``app.api.counters``) can read the wallet from it
in the same round trip as the counts.
"""

from __future__ import annotations

import datetime as dt
import logging

from redis import Redis, RedisError

from app.sessions import SessionInfo, digest

log = logging.getLogger(__name__)

REVOKED = b"revoked"
_PREFIX = "epns-api:session:"
_EPOCH = dt.datetime(1970, 1, 1)
_US = dt.timedelta(microseconds=1)


def key(token: str) -> str:
    """Where the copy of the session ``token`` names is kept."""
    return key_of_hash(digest(token))


def key_of_hash(token_hash: str) -> str:
    """The same, from the hash the database keeps (for operators' commands)."""
    return _PREFIX + token_hash


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
        """The copy or tombstone for ``token``; None when Redis has neither,
        or cannot be asked."""
        try:
            return self._redis.get(key(token))
        except RedisError as exc:
            log.warning("session copy not read, asking the database: %r", exc)
            return None

    def fill(self, token: str, info: SessionInfo) -> bool:
        """Copy a session just read from the database, unless one is there;
        True when this call made the copy."""
        try:
            return bool(
                self._redis.set(
                    key(token),
                    encode(info),
                    pxat=_epoch_us(info.expires_at) // 1000,
                    nx=True,
                )
            )
        except RedisError as exc:
            log.warning("session %s not copied to Redis: %r", info.id, exc)
            return False

    def forget(self, token: str) -> None:
        """Drop a copy made of a session that ended meanwhile."""
        try:
            self._redis.delete(key(token))
        except RedisError as exc:
            log.warning("copy of an ended session not dropped: %r", exc)

    def revoke(self, token: str, info: SessionInfo) -> None:
        """Mark the session ended, for as long as it would have lived.

        Raises when Redis cannot be written: a copy left live would keep
        the session working after its row is gone."""
        self.revoke_hash(digest(token), info.expires_at)

    def revoke_hash(self, token_hash: str, expires_at: dt.datetime) -> None:
        """``revoke`` for a session known only by its stored hash."""
        self._redis.set(
            key_of_hash(token_hash), REVOKED, pxat=_epoch_us(expires_at) // 1000
        )


def _epoch_us(moment: dt.datetime) -> int:
    """Microseconds since the epoch of a naive UTC datetime."""
    return (moment - _EPOCH) // _US
