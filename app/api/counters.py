"""Fixed-window rate-limit counts and the request's session, in one round trip.

flask-limiter's storage counts a window with a small Lua script, one call
per limit, and the per-wallet limits need the session's wallet, which would
be one more round trip before them. Here one script of our own counts every
window of a request, reads the copy of its session (``app.session_cache``)
and counts the windows of that session's wallet. The keys and the counting
are flask-limiter's (``INCRBY`` 1, expiry set on the window's first hit),
so a deploy keeps the windows already counting.

The wallet windows' keys are built inside the script from the copy it read,
which a Redis Cluster would refuse; flask-limiter's Redis storage, which
these counters use, is a single server. The script is called by its SHA; a
server that lost it (a restart, ``SCRIPT FLUSH``) gets it loaded again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem
from limits.storage import RedisStorage, Storage
from redis.connection import Connection
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError

log = logging.getLogger(__name__)

# flask-limiter's key prefix for this app's limits.
KEY_PREFIX = "epns-api"
# Stands for the owner (an IP, a wallet) while a window's key is built.
_MARK = "\x00"

COUNT = """
local function hit(key, expiry)
  local count = redis.call('INCRBY', key, 1)
  if count == 1 then
    redis.call('EXPIRE', key, expiry)
  end
  return count
end

local fixed = tonumber(ARGV[1])
local answer = {false}
for i = 1, fixed do
  answer[i + 1] = hit(KEYS[i], ARGV[i + 1])
end
if #KEYS > fixed then
  local copy = redis.call('GET', KEYS[fixed + 1])
  answer[1] = copy
  local wallet = copy and string.match(copy, '^%d+ (0x%x+) ')
  if wallet then
    for j = fixed + 2, #ARGV, 3 do
      answer[#answer + 1] = hit(ARGV[j] .. wallet .. ARGV[j + 1], ARGV[j + 2])
    end
  end
end
return answer
"""


@dataclass(frozen=True)
class Window:
    """A fixed window of one limit: its Redis key is head + owner + tail."""

    item: RateLimitItem
    head: str
    tail: str
    expiry: int
    by_wallet: bool

    def key(self, owner: str) -> str:
        return self.head + owner + self.tail


@dataclass(frozen=True)
class Counted:
    """The counts of the windows with known owners, then of the wallet's."""

    counts: list[int]
    copy: bytes | None
    wallet_counts: list[int] | None


class Counters:
    """Count windows in a limits ``RedisStorage``, with flask-limiter's keys."""

    def __init__(self, storage: Storage):
        if not isinstance(storage, RedisStorage):
            raise TypeError(f"rate limits need a Redis storage, not {storage!r}")
        self._storage = storage
        self._pool = storage.get_connection().connection_pool
        self._script = storage.get_connection().register_script(COUNT)

    def window(self, item: RateLimitItem, scope: str, by_wallet: bool) -> Window:
        """The window of ``item`` in ``scope``, keyed as flask-limiter keys it."""
        key = self._storage.prefixed_key(item.key_for(KEY_PREFIX, _MARK, scope))
        head, tail = key.split(_MARK)
        return Window(item, head, tail, item.get_expiry(), by_wallet)

    def incr_all(self, windows: list[tuple[str, int]]) -> list[int]:
        """Count one hit in each ``(Redis key, expiry seconds)``; the new counts."""
        return self.count(windows).counts

    def count(
        self,
        windows: list[tuple[str, int]],
        session_key: str | None = None,
        wallet_windows: list[Window] = (),
    ) -> Counted:
        """Count ``windows``; with ``session_key``, read that copy and count
        ``wallet_windows`` for the wallet in it (None when it names none)."""
        keys = [key for key, _ in windows]
        args: list[str | int] = [len(windows), *(expiry for _, expiry in windows)]
        if session_key is not None:
            keys.append(session_key)
            for window in wallet_windows:
                args += (window.head + "wallet:", window.tail, window.expiry)

        answer = self._call(keys, args)

        counts = answer[1 : len(windows) + 1]
        wallet_counts = answer[len(windows) + 1 :]
        if session_key is None or (wallet_windows and not wallet_counts):
            return Counted(counts, answer[0], None)
        return Counted(counts, answer[0], wallet_counts)

    def expiry(self, key: str) -> float:
        """When the window at the Redis ``key`` resets (epoch seconds)."""
        return time.time() + max(self._storage.get_connection().ttl(key), 0)

    def _call(self, keys: list[str], args: list[str | int]) -> list:
        """EVALSHA on a pooled connection, without the client's layers.

        A connection the server closed (a restart) is opened again once; a
        server that lost the script gets it loaded again.
        """
        connection = self._pool.get_connection()
        try:
            try:
                return self._send(connection, keys, args)
            except (ConnectionError, TimeoutError):
                connection.disconnect()
                return self._send(connection, keys, args)
        except NoScriptError:
            log.info("rate-limit script missing on the server, loading it again")
            self._storage.get_connection().script_load(self._script.script)
            return self._send(connection, keys, args)
        finally:
            self._pool.release(connection)

    def _send(self, connection: Connection, keys: list[str], args: list) -> list:
        connection.send_command("EVALSHA", self._script.sha, len(keys), *keys, *args)
        return connection.read_response()
