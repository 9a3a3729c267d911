"""The bearer session of the current request, looked up once and cached."""

from __future__ import annotations

import logging

from flask import current_app, g, request

from app.errors import AuthFailed, Forbidden
from app.sessions import SessionInfo, authenticate

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


def require_wallet(wallet: str) -> None:
    """The session must be ``wallet``'s, unless the unsafe legacy switch is on.

    With ``LEGACY_UNAUTHENTICATED_REGISTER`` a request without credentials
    acts for any wallet, as on the public EPNS nodes; one that sends a
    bearer token is still held to it.
    """
    legacy = current_app.config["SETTINGS"].api.legacy_register
    if legacy and "Authorization" not in request.headers:
        log.warning("UNAUTHENTICATED legacy register for %s", wallet)
        return
    session = current_session()
    if session.wallet != wallet:
        log.warning("session of %s tried to act for %s", session.wallet, wallet)
        raise Forbidden("wallet_mismatch", "the body's wallet is not the session's")


def current_session() -> SessionInfo:
    """The request's session, or AuthFailed (cached: limiter and view share it)."""
    found = g.get("api_session")
    if found is None:
        try:
            found = authenticate(bearer_token())
        except AuthFailed as exc:
            found = exc
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
