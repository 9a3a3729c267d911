"""Fixed-window counters of the rate limits, several in one Redis round trip.

The limits library (flask-limiter's storage) counts a window with a small
Lua script, one call per limit. Here the same script runs for every limit of
a request in one pipeline, so a route with an IP and a wallet limit pays one
round trip instead of two. Scripts are called by their SHA: a pipeline
holding redis-py ``Script`` objects would ask ``SCRIPT EXISTS`` on every
call, which is the round trip saved; a server that lost its scripts (a
restart, ``SCRIPT FLUSH``) gets them loaded again and the pipeline resent.
"""

from __future__ import annotations

import logging

from limits.storage import RedisStorage, Storage
from redis.exceptions import NoScriptError

log = logging.getLogger(__name__)


class Counters:
    """Increment several windows at once in a limits ``RedisStorage``."""

    def __init__(self, storage: Storage):
        if not isinstance(storage, RedisStorage):
            raise TypeError(f"rate limits need a Redis storage, not {storage!r}")
        self._storage = storage
        self._script = storage.lua_incr_expire

    def incr_all(self, windows: list[tuple[str, int]]) -> list[int]:
        """Count one hit in each ``(key, expiry seconds)``; the new counts."""
        try:
            return self._send(windows)
        except NoScriptError:
            log.info("rate-limit script missing on the server, loading it again")
            self._storage.get_connection().script_load(self._script.script)
            return self._send(windows)

    def expiry(self, key: str) -> float:
        """When the window at ``key`` resets (epoch seconds)."""
        return self._storage.get_expiry(key)

    def _send(self, windows: list[tuple[str, int]]) -> list[int]:
        pipe = self._storage.get_connection().pipeline(transaction=False)
        for key, expiry in windows:
            stored = self._storage.prefixed_key(key)
            pipe.evalsha(self._script.sha, 1, stored, expiry, 1)
        return [int(count) for count in pipe.execute()]
