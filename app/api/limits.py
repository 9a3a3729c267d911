"""Rate limits per IP and per wallet, counted in the configured Redis.

Limits are read from the app's settings at request time, so tests and
deployments set them through ``RATE_LIMIT_*`` without code changes. A
breached limit answers 429 in the error contract with ``Retry-After``.

The counters are flask-limiter's: its storage, its fixed-window script and
its keys, so a deploy keeps the windows already counting. What differs is
the round trip: every limit a route names is counted in one pipelined Redis
call (``app.api.counters``) where flask-limiter sends one script call per
limit and walks its own resolution machinery on every request. One
consequence: a request refused by one limit has still counted against the
others it names.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.exceptions import TooManyRequests

from app import session_cache
from app.api.counters import KEY_PREFIX, Counters, Window
from app.api.session import adopt, lookup_token, session_wallet
from app.config import ApiConfig, Settings
from app.session_cache import SessionCache

log = logging.getLogger(__name__)

# One Limiter per process, like any Flask extension: it owns the storage
# (built from RATELIMIT_STORAGE_URI at init_app) that the counters use.
limiter = Limiter(
    key_func=get_remote_address,
    headers_enabled=False,
    strategy="fixed-window",
    key_prefix=KEY_PREFIX,
)


def init_limiter(app: Flask, settings: Settings) -> None:
    """Build the storage and count through it; no per-request hooks.

    flask-limiter's before/after/teardown hooks only serve default and
    application limits, which we have none of, yet cost more than the
    counting itself on every request: they are not installed.
    """
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri(settings.redis_url)
    # A Redis that hangs must cost a request a bounded wait and a 503, not
    # hold a gunicorn thread for as long as it hangs.
    timeout = settings.api.redis_timeout
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    limiter.init_app(app)
    _drop_hooks(app)
    app.extensions["epns_counters"] = Counters(limiter.storage)
    app.extensions["epns_sessions"] = SessionCache(limiter.storage.get_connection())


def storage_uri(redis_url: str) -> str:
    """The limits library spells a Redis unix socket ``redis+unix://``."""
    if redis_url.startswith("unix://"):
        return "redis+" + redis_url
    return redis_url


def _drop_hooks(app: Flask) -> None:
    """Remove what init_app registered: bound methods or partials of it."""

    def the_limiters(hook: Callable) -> bool:
        target = getattr(hook, "func", hook)
        return getattr(target, "__self__", None) is limiter or (
            getattr(hook, "args", ()) == (limiter,)
        )

    for hooks in (
        app.before_request_funcs,
        app.after_request_funcs,
        app.teardown_request_funcs,
    ):
        hooks[None] = [hook for hook in hooks.get(None, []) if not the_limiters(hook)]


@dataclass(frozen=True)
class Rule:
    """A limit: the setting holding its text, its scope, whom it counts.

    Without ``key`` it counts the session's wallet (anonymous requests by
    their IP), read in the same Redis call as the counts.
    """

    setting: str
    scope: str
    key: Callable[[], str] | None = None


def limited(*rules: Rule) -> Callable:
    """Count ``rules`` before the view runs (and before its body is parsed)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args, **kwargs):
            config = _config()
            if config.rate_limits_enabled:
                _count(config, rules)
            return view(*args, **kwargs)

        return checked

    return decorate


def _config() -> ApiConfig:
    return current_app.config["SETTINGS"].api


def _count(config: ApiConfig, rules: tuple[Rule, ...]) -> None:
    """One Redis call counts every window, fetching the session on the way.

    When Redis holds no live copy of the session, the database is asked
    (and the copy made) and the wallet's windows are counted in a second
    call; without a token to look up, the owner is known before the call.
    """
    counters: Counters = current_app.extensions["epns_counters"]
    plan = _plan(counters, rules, tuple(getattr(config, r.setting) for r in rules))
    by_wallet = [window for _, window in plan if window.by_wallet]
    token = lookup_token() if by_wallet else None
    known = [
        (window, window.key(_owner(rule)))
        for rule, window in plan
        if not window.by_wallet or token is None
    ]

    counted = counters.count(
        [(key, window.expiry) for window, key in known],
        session_key=session_cache.key(token) if token else None,
        wallet_windows=by_wallet if token else (),
    )

    windows = list(zip(known, counted.counts, strict=True))
    if token:
        adopt(token, counted.copy)
        owner = _session_wallet_key()
        keyed = [(window, window.key(owner)) for window in by_wallet]
        counts = counted.wallet_counts
        if counts is None:
            counts = counters.incr_all([(key, w.expiry) for w, key in keyed])
        windows += zip(keyed, counts, strict=True)
    breached = [(w, key) for (w, key), count in windows if count > w.item.amount]
    if breached:
        _refuse(counters, breached)


def _owner(rule: Rule) -> str:
    """Whom a rule counts, when that is known before the Redis call."""
    return rule.key() if rule.key is not None else _session_wallet_key()


@functools.lru_cache(maxsize=64)
def _plan(
    counters: Counters, rules: tuple[Rule, ...], texts: tuple[str, ...]
) -> tuple[tuple[Rule, Window], ...]:
    """The windows of ``rules`` under the limit texts configured now.

    Built once per route and setting: a request only fills in the owners.
    """
    return tuple(
        (rule, counters.window(item, rule.scope, rule.key is None))
        for rule, text in zip(rules, texts, strict=True)
        for item in parse_many(text)
    )


def _refuse(counters: Counters, breached: list[tuple[Window, str]]) -> None:
    """Answer 429, waiting for the last breached window to reset.

    Only a breach pays for reading the windows' expiry; the X-RateLimit
    headers on every answer would cost Redis round trips on every request.
    """
    resets = [counters.expiry(key) for _, key in breached]
    g.retry_after = max(1, math.ceil(max(resets) - time.time()))
    for window, key in breached:
        log.info("rate limit %s exceeded: %s", window.item, key)
    raise TooManyRequests(description=str(breached[0][0].item))


def count_verified_sign_in(wallet: str) -> None:
    """Count a sign-in against its wallet once its signature holds (429 past
    the limit, before the nonce is spent or a session opened).

    Counting before the check would let anyone lock a wallet out with
    unsigned bodies naming it; a signature cannot be guessed, so what the
    limit bounds is the sessions one wallet opens.
    """
    config = _config()
    if config.rate_limits_enabled:
        g.signin_wallet = wallet
        _count(config, (SIGNIN_PER_WALLET,))


def _signin_wallet_key() -> str:
    return f"wallet:{g.signin_wallet}"


def _session_wallet_key() -> str:
    wallet = session_wallet()
    return f"wallet:{wallet}" if wallet else f"anonymous:{get_remote_address()}"


# Shared scopes: counted across every route that names them, e.g. all token
# writes together.
SIGNIN_PER_IP = Rule("signin_limit_ip", "signin-ip", get_remote_address)
SIGNIN_PER_WALLET = Rule("signin_limit_wallet", "signin-wallet", _signin_wallet_key)
WRITES_PER_IP = Rule("write_limit_ip", "writes-ip", get_remote_address)
WRITES_PER_WALLET = Rule("write_limit_wallet", "writes-wallet")

signin_limits = limited(SIGNIN_PER_IP)  # and count_verified_sign_in
nonce_limits = limited(SIGNIN_PER_IP)
write_limits = limited(WRITES_PER_IP, WRITES_PER_WALLET)
