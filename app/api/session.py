"""The bearer session of the current request, looked up once and cached.

Sessions are read from their Redis copies (``app.api.session_cache``) and
from the database only when Redis has none; the rate limiter may hand over
a copy it fetched in its own round trip (``adopt``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import current_app, g, request

from app import session_cache, sessions, tokens
from app.db import retry_lock_conflicts, write_transaction
from app.errors import AuthFailed, Forbidden
from app.session_cache import REVOKED, SessionCache
from app.sessions import SessionGrant, SessionInfo

# What every route that needs a session may answer.
SESSION_CODES = ("missing_session", "invalid_session", "session_expired")

log = logging.getLogger(__name__)


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if one was sent."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def signed_in(view: Callable) -> Callable:
    """Refuse a request without a live session before its body is read, so
    a caller who is not signed in learns nothing of the body's checks."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        if not _legacy_anonymous():
            current_session()
        return view(*args, **kwargs)

    return checked


def require_wallet(wallet: str) -> None:
    """The session must be ``wallet``'s, unless the unsafe legacy switch is on.

    With ``LEGACY_UNAUTHENTICATED_REGISTER`` a request without credentials
    acts for any wallet, as on the public EPNS nodes; one that sends a
    bearer token is still held to it.
    """
    if _legacy_anonymous():
        log.warning("UNAUTHENTICATED legacy register for %s", wallet)
        return
    session = current_session()
    if session.wallet != wallet:
        log.warning("session of %s tried to act for %s", session.wallet, wallet)
        raise Forbidden("wallet_mismatch", "the body's wallet is not the session's")


def _legacy_anonymous() -> bool:
    """An unauthenticated request the unsafe legacy switch lets through."""
    legacy = current_app.config["SETTINGS"].api.legacy_register
    return legacy and "Authorization" not in request.headers


def current_session() -> SessionInfo:
    """The request's session, or AuthFailed (cached: limiter and view share it)."""
    found = g.get("api_session")
    if found is None:
        found = _resolve(bearer_token())
        g.api_session = found
    if isinstance(found, AuthFailed):
        raise found
    return found


def session_wallet() -> str | None:
    """The signed-in wallet, or None; never raises (for rate-limit keys)."""
    try:
        return current_session().wallet
    except AuthFailed:
        return None


def lookup_token() -> str | None:
    """The bearer token whose copy the limiter should fetch, if any.

    None when the request's session is already known or the header cannot
    name one of ours: there is nothing to look up then.
    """
    if "api_session" in g:
        return None
    try:
        return sessions.check_token(bearer_token())
    except AuthFailed:
        return None


def adopt(token: str, copy: bytes | None) -> None:
    """Take the copy (or its absence) the limiter read for ``token``."""
    g.api_session = _resolve(token, copy, read=True)


def remember(grant: SessionGrant) -> None:
    """Copy a session just opened, so its first request finds it in Redis.

    Best effort: the session is committed already, and a request that finds
    no copy reads the database."""
    _cache().fill(grant.token, grant.session)


def end_session(forget_devices: bool = False) -> int:
    """Log out, and with ``forget_devices`` delete the wallet's devices too;
    the number of devices deleted.

    The copy is tombstoned before anything is deleted, so a Redis that
    cannot be written fails the request with nothing changed; devices and
    session then go in one transaction, and the tombstone is written again,
    over any copy a lookup in flight made meanwhile.
    """
    token, info = bearer_token(), current_session()
    cache = _cache()
    cache.revoke(token, info)

    deleted = _forget(info, forget_devices)

    cache.revoke(token, info)
    return deleted


@retry_lock_conflicts()
def _forget(info: SessionInfo, forget_devices: bool) -> int:
    with write_transaction():
        deleted = tokens.delete_all(info.wallet) if forget_devices else 0
        sessions.revoke(info)
    return deleted


def _resolve(
    token: str | None, copy: bytes | None = None, read: bool = False
) -> SessionInfo | AuthFailed:
    """The session ``token`` names, from its copy or else the database."""
    try:
        token = sessions.check_token(token)
        cache = _cache()
        if not read:
            copy = cache.get(token)
        if copy == REVOKED:
            raise sessions.unknown_session()
        if copy is not None:
            return sessions.live(session_cache.decode(copy))

        info = sessions.authenticate(token)
        if cache.fill(token, info) and not sessions.exists(info):
            # Ended between our read and our copy: the copy must not outlive it.
            cache.forget(token)
            raise sessions.unknown_session()
        return info
    except AuthFailed as exc:
        return exc


def _cache() -> SessionCache:
    return current_app.extensions["epns_sessions"]
