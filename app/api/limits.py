"""Rate limits per IP and per wallet, counted in the configured Redis.

Limits are read from the app's settings at request time, so tests and
deployments set them through ``RATE_LIMIT_*`` without code changes. A
breached limit answers 429 in the error contract with ``Retry-After``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable

from flask import Flask, current_app, g, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from app.api.session import session_wallet
from app.config import ApiConfig, Settings

# The line after the EIP-4361 header is the signing address; in the JSON text
# the newlines around it are written as the two characters "\n".
_MESSAGE_ADDRESS = re.compile(
    r"sign in with your Ethereum account:\\n(0x[0-9a-fA-F]{40})\\n"
)


def _remember_retry_after(breached: RequestLimit) -> None:
    """Keep the wait for the 429 answer's Retry-After header.

    Only a breach pays for reading the window; the X-RateLimit headers on
    every answer would cost Redis round trips on every request.
    """
    g.retry_after = max(1, math.ceil(breached.window[0] - time.time()))


# One Limiter per process, like any Flask extension: init_app binds it to
# each app built (tests build many, all on the same Redis).
limiter = Limiter(
    key_func=get_remote_address,
    headers_enabled=False,
    strategy="fixed-window",
    key_prefix="epns-api",
    on_breach=_remember_retry_after,
)


def init_limiter(app: Flask, settings: Settings) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri(settings.redis_url)
    limiter.init_app(app)


def storage_uri(redis_url: str) -> str:
    """The limits library spells a Redis unix socket ``redis+unix://``."""
    if redis_url.startswith("unix://"):
        return "redis+" + redis_url
    return redis_url


def _config() -> ApiConfig:
    return current_app.config["SETTINGS"].api


def _exempt() -> bool:
    return not _config().rate_limits_enabled


def _limit(name: str) -> Callable[[], str]:
    return lambda: getattr(_config(), name)


def _signin_wallet_key() -> str:
    """The address line of the posted message, read without decoding JSON.

    The key is computed before the body is validated, so it must survive
    any body at all; a regular expression over the raw text cannot fail.
    """
    match = _MESSAGE_ADDRESS.search(request.get_data(cache=True, as_text=True))
    if match is None:
        return f"unparsed:{get_remote_address()}"
    return f"wallet:{match.group(1).lower()}"


def _session_wallet_key() -> str:
    wallet = session_wallet()
    return f"wallet:{wallet}" if wallet else f"anonymous:{get_remote_address()}"


def _shared(name: str, scope: str, key_func: Callable[[], str] | None = None):
    return limiter.shared_limit(
        _limit(name), scope=scope, key_func=key_func, exempt_when=_exempt
    )


# Counted across every route they decorate, e.g. all token writes together.
signin_per_ip = _shared("signin_limit_ip", "signin-ip")
signin_per_wallet = _shared("signin_limit_wallet", "signin-wallet", _signin_wallet_key)
writes_per_ip = _shared("write_limit_ip", "writes-ip")
writes_per_wallet = _shared("write_limit_wallet", "writes-wallet", _session_wallet_key)
