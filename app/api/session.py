"""The bearer session of the current request, looked up once and cached."""

from __future__ import annotations

from flask import g, request

from app.errors import AuthFailed
from app.sessions import SessionInfo, authenticate


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if one was sent."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def has_credentials() -> bool:
    return "Authorization" in request.headers


def current_session() -> SessionInfo:
    """The request's session, or AuthFailed (cached: limiter and view share it)."""
    if "api_session" not in g:
        try:
            g.api_session = authenticate(bearer_token())
        except AuthFailed as exc:
            g.api_session = exc
    if isinstance(g.api_session, AuthFailed):
        raise g.api_session
    return g.api_session


def session_wallet() -> str | None:
    """The signed-in wallet, or None; never raises (for rate-limit keys)."""
    try:
        return current_session().wallet
    except AuthFailed:
        return None
