"""One runner per chain: a Redis lock with an expiry, kept alive while held.

The value names the holder (host, pid, random token). A run killed with
SIGKILL leaves its lock behind: the expiry frees it eventually, and a new
run on the same host takes it over at once when the holder's pid is gone.
A heartbeat thread renews the expiry; if the lock is lost (expired during a
stall, or taken over) ``lost`` is set and the runner stops before its next
commit. The checkpoint's compare-and-set in ``poller.store`` covers the gap.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading

from redis import Redis, RedisError

log = logging.getLogger(__name__)

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
_TAKE_OVER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


def lock_key(chain_id: int) -> str:
    return f"epns:poller:lock:{chain_id}"


class ChainLock:
    def __init__(self, redis: Redis, chain_id: int, ttl: float = 60.0) -> None:
        self.redis = redis
        self.chain_id = chain_id
        self.key = lock_key(chain_id)
        self.ttl_ms = int(ttl * 1000)
        self.value = json.dumps(
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "token": secrets.token_hex(8),
            }
        )
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take the lock, or say who holds it (False)."""
        if self.redis.set(self.key, self.value, nx=True, px=self.ttl_ms):
            self._start_heartbeat()
            return True
        holder = self.redis.get(self.key)
        if holder is not None and self._holder_is_dead(holder):
            taken = self.redis.eval(
                _TAKE_OVER, 1, self.key, holder, self.value, self.ttl_ms
            )
            if taken:
                log.warning(
                    "chain %s: took over the lock of a dead run %s",
                    self.chain_id,
                    holder.decode(),
                )
                self._start_heartbeat()
                return True
        return False

    def holder(self) -> str:
        value = self.redis.get(self.key)
        return value.decode() if value else "nobody"

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.redis.eval(_RELEASE, 1, self.key, self.value)
        except RedisError:  # the expiry frees it anyway
            log.warning(
                "chain %s: could not release the lock; it expires", self.chain_id
            )

    def __enter__(self) -> ChainLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _holder_is_dead(self, raw: bytes) -> bool:
        try:
            holder = json.loads(raw)
            pid = int(holder["pid"])
        except (ValueError, KeyError, TypeError):
            return False
        if holder.get("host") != socket.gethostname() or pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return _is_zombie(pid)

    def _start_heartbeat(self) -> None:
        self._thread = threading.Thread(
            target=self._beat, name=f"lock-{self.chain_id}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        interval = self.ttl_ms / 3000
        while not self._stop.wait(interval):
            try:
                renewed = self.redis.eval(_RENEW, 1, self.key, self.value, self.ttl_ms)
            except RedisError as exc:  # keep beating; the expiry decides
                log.warning("chain %s: lock renewal failed: %s", self.chain_id, exc)
                continue
            if not renewed:
                log.error("chain %s: lock lost to %s", self.chain_id, self.holder())
                self.lost.set()
                return


def _is_zombie(pid: int) -> bool:
    """A killed child not yet reaped still answers kill(0): check its state."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
