"""Whether this deployment can do its work: database, Redis, poller lag.

Each check answers rather than raises, so ``/readyz`` can say which part is
down while it is down. The poller's lag is read from the checkpoint table
(``head_block`` is the newest head the poller saw), so any API process can
judge it without talking to a node.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import peewee as pw
from redis import Redis
from redis.exceptions import RedisError

from app.config import ConfigError, Settings
from app.db import database
from app.logs import redact
from app.models import Checkpoint, utcnow

log = logging.getLogger(__name__)

_CHECK_TIMEOUT = 2.0
_clients: dict[str, Redis] = {}


@dataclass
class Readiness:
    checks: dict[str, dict] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def as_json(self) -> dict:
        return {"status": "ready" if self.ready else "not ready", **self.checks}


def check_readiness(settings: Settings, with_chains: bool = True) -> Readiness:
    """Run every check; ``with_chains=False`` leaves out the poller's lag."""
    result = Readiness()
    result.checks["database"] = check_database()
    result.checks["redis"] = check_redis(settings.redis_url)

    if with_chains and result.checks["database"]["ok"]:
        result.checks["chains"] = check_chains(settings)

    if not result.ready:
        failed = [name for name, check in result.checks.items() if not check["ok"]]
        log.warning("not ready: %s", ", ".join(failed))
    return result


def check_database() -> dict:
    try:
        database.connect(reuse_if_open=True)
        database.execute_sql("SELECT 1").fetchall()
    except (pw.PeeweeException, OSError) as exc:
        return _failure(exc)
    return {"ok": True}


def check_redis(url: str) -> dict:
    try:
        _redis(url).ping()
    except (RedisError, OSError) as exc:
        return _failure(exc)
    return {"ok": True}


def check_chains(settings: Settings) -> dict:
    """Lag of every chain with a checkpoint, against READY_MAX_LAG_BLOCKS.

    Lag counts blocks between the safe head (head minus the chain's
    confirmations) and the checkpoint. A chain whose poller has not yet
    stored a head is reported with an unknown lag and does not fail.
    """
    confirmations = _confirmations(settings)
    limit = settings.ready_max_lag_blocks
    try:
        rows = list(Checkpoint.select().order_by(Checkpoint.chain_id))
    except (pw.PeeweeException, OSError) as exc:
        return _failure(exc)

    chains = {}
    for row in rows:
        lag = None
        if row.head_block is not None:
            safe_head = row.head_block - confirmations.get(row.chain_id, 0)
            lag = max(0, safe_head - row.block_number)
        chains[str(row.chain_id)] = {
            "checkpoint": row.block_number,
            "head": row.head_block,
            "lag": lag,
            "age_seconds": round((utcnow() - row.updated_at).total_seconds()),
            "ok": lag is None or lag <= limit,
        }
    ok = all(chain["ok"] for chain in chains.values())
    return {"ok": ok, "max_lag": limit, "by_chain": chains}


def _confirmations(settings: Settings) -> dict[int, int]:
    try:
        return {chain.chain_id: chain.confirmations for chain in settings.chains()}
    except ConfigError:
        # An API host need not know the chains; the raw lag is still useful.
        return {}


def _redis(url: str) -> Redis:
    client = _clients.get(url)
    if client is None:
        client = Redis.from_url(
            url, socket_timeout=_CHECK_TIMEOUT, socket_connect_timeout=_CHECK_TIMEOUT
        )
        _clients[url] = client
    return client


def _failure(exc: BaseException) -> dict:
    return {"ok": False, "error": redact(f"{type(exc).__name__}: {exc}")[:300]}
