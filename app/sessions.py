"""Bearer sessions: opaque random tokens, stored only as their SHA-256.

A stolen database therefore yields no usable token, no server secret has to
be shared, and every gunicorn worker and machine agrees on who is signed
in. A session is bound to the one wallet that signed in and expires after
``SESSION_TTL_SECONDS`` (or the message's own expiration, if sooner).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from app.errors import AuthFailed
from app.models import ApiSession, utcnow
from app.prepared import Prepared

log = logging.getLogger(__name__)

# Every API call runs this lookup: compiled once (see app.prepared).
_COLUMNS = (
    ApiSession.id,
    ApiSession.wallet,
    ApiSession.chain_id,
    ApiSession.expires_at,
)
_BY_HASH = Prepared(
    lambda p: ApiSession.select(*_COLUMNS).where(ApiSession.token_hash == p("hash")),
    _COLUMNS,
)

# token_urlsafe(32) gives 43 characters; anything far off is not ours.
_MAX_TOKEN_CHARS = 128


@dataclass(frozen=True)
class SessionInfo:
    id: int
    wallet: str
    chain_id: int
    expires_at: dt.datetime


@dataclass(frozen=True)
class SessionGrant:
    """A new session and the one copy of its token the client gets."""

    token: str
    session: SessionInfo

    @property
    def wallet(self) -> str:
        return self.session.wallet

    @property
    def expires_at(self) -> dt.datetime:
        return self.session.expires_at


def open_session(
    wallet: str, chain_id: int, ttl: int, not_after: dt.datetime | None = None
) -> SessionGrant:
    """A new session for ``wallet``; the caller owns the transaction."""
    now = utcnow()
    expires_at = now + dt.timedelta(seconds=ttl)
    if not_after is not None:
        expires_at = min(expires_at, not_after.replace(tzinfo=None))
    # Whole seconds, as MySQL's DATETIME keeps it: the expiry the client is
    # told and the Redis copy's lifetime must not outlast the stored row.
    expires_at = expires_at.replace(microsecond=0)
    token = secrets.token_urlsafe(32)
    row = ApiSession.create(
        token_hash=digest(token),
        wallet=wallet,
        chain_id=chain_id,
        created_at=now,
        expires_at=expires_at,
    )
    return SessionGrant(token, SessionInfo(row.id, wallet, chain_id, expires_at))


def check_token(token: str | None) -> str:
    """``token`` if it could be one of ours, else AuthFailed (no lookup)."""
    if not token:
        raise AuthFailed("missing_session", "send Authorization: Bearer <token>")
    if len(token) > _MAX_TOKEN_CHARS:
        raise unknown_session()
    return token


def authenticate(token: str | None) -> SessionInfo:
    """The live session a bearer token names, read from the database."""
    token = check_token(token)

    row = _BY_HASH.first(hash=digest(token))
    if row is None:
        raise unknown_session()
    return live(SessionInfo(*row))


def unknown_session() -> AuthFailed:
    return AuthFailed("invalid_session", "unknown or revoked bearer token")


def live(info: SessionInfo) -> SessionInfo:
    """``info`` if it has not expired, else AuthFailed."""
    if info.expires_at <= utcnow():
        log.info("expired session %s of %s refused", info.id, info.wallet)
        raise AuthFailed("session_expired", "the session has expired: sign in again")
    return info


def exists(session: SessionInfo) -> bool:
    """Whether the session's row is still stored."""
    return ApiSession.select().where(ApiSession.id == session.id).exists()


def sweep_expired_sessions() -> None:
    """Delete expired sessions: a statement of its own (see auth.issue_nonce)."""
    ApiSession.delete().where(ApiSession.expires_at <= utcnow()).execute()


def revoke(session: SessionInfo) -> None:
    ApiSession.delete().where(ApiSession.id == session.id).execute()
    log.info("session %s of %s revoked", session.id, session.wallet)


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()
