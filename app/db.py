"""The database handle shared by the API, the jobs and the poller.

Models bind to ``database``, a proxy; ``init_database`` points it at the
server named by a URL. MySQL connections come from a pool that drops stale
connections and reconnects after idle disconnects (error 2006), since
gunicorn and RQ workers keep processes alive for days.
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import time
from collections.abc import Callable
from functools import cache
from urllib.parse import urlparse

import peewee
import pymysql
from playhouse.db_url import connect
from playhouse.pool import PooledMySQLDatabase
from playhouse.shortcuts import ReconnectMixin

log = logging.getLogger(__name__)

database = peewee.DatabaseProxy()


class _MySQLConnection(pymysql.connections.Connection):
    """PyMySQL's connection, sharing one TLS context in its default mode.

    Given no TLS options, PyMySQL tries TLS if the server offers it,
    verifying nothing, yet builds a new context for every connection and
    loads the system's CA certificates into it: about 18 ms of CPU per
    connection, paid by each pass of the poller for its hand-off thread.
    """

    def _create_ssl_ctx(self, sslp: dict | ssl.SSLContext) -> ssl.SSLContext:
        if sslp == {}:
            return _unverified_context()
        return super()._create_ssl_ctx(sslp)


@cache
def _unverified_context() -> ssl.SSLContext:
    # The context PyMySQL builds for empty options uses no instance state.
    return pymysql.connections.Connection._create_ssl_ctx(None, {})


class _SharedTlsMySQL(peewee.MySQLDatabase):
    """Opens its connections as ``_MySQLConnection``; below the pool in the
    method order, so only connections the pool lacks are opened."""

    def _connect(self) -> pymysql.connections.Connection:
        return _MySQLConnection(
            database=self.database, autocommit=True, **self.connect_params
        )


class ReconnectingPooledMySQL(ReconnectMixin, PooledMySQLDatabase, _SharedTlsMySQL):
    """Pooled MySQL that retries a statement once after a lost connection."""


def make_database(url: str) -> peewee.Database:
    """Build (without connecting) the database a URL names."""
    parsed = urlparse(url)
    if parsed.scheme in ("mysql", "mysql+pool"):
        return ReconnectingPooledMySQL(
            parsed.path.lstrip("/"),
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.username or "root",
            password=parsed.password or "",
            charset="utf8mb4",
            max_connections=32,
            stale_timeout=300,
            timeout=10,
        )
    if parsed.scheme == "sqlite":
        # WAL lets the API, the workers and the poller share one file.
        return connect(
            url,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": 10000,
                "foreign_keys": 1,
                "synchronous": "normal",
            },
        )
    raise ValueError(f"DATABASE_URL: unsupported scheme {parsed.scheme!r}")


def init_database(url: str) -> peewee.Database:
    """Bind the models to the database at ``url`` and return it."""
    db = make_database(url)
    database.initialize(db)
    log.debug("database bound: %s", type(db).__name__)
    return db


def is_mysql(db: peewee.Database | None = None) -> bool:
    db = db or database.obj
    return isinstance(db, peewee.MySQLDatabase)


def write_transaction():
    """A transaction that takes SQLite's write lock at BEGIN.

    A deferred SQLite transaction that reads and then writes fails at once
    with "database is locked" when another writer committed in between
    (WAL cannot upgrade a stale snapshot), and no busy timeout helps. Taking
    the lock first makes concurrent writers queue instead. MySQL's row locks
    need nothing of the kind.
    """
    if isinstance(database.obj, peewee.SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()


# MySQL's answers to a transaction that lost a lock race: a deadlock victim,
# which the server rolled back whole, or a wait for a lock given up on.
_LOCK_CONFLICTS = frozenset({1205, 1213})


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a lost lock race, which running again can win."""
    if not isinstance(exc, peewee.OperationalError) or not exc.args:
        return False
    code = exc.args[0]
    return code in _LOCK_CONFLICTS or (
        isinstance(code, str) and "database is locked" in code
    )


def retry_lock_conflicts(attempts: int = 3) -> Callable:
    """Run a unit of work again when it lost a lock race.

    Only a call that owns its transaction is run again: inside an outer
    transaction the conflict has rolled back more than this call, and the
    owner of that transaction must decide. What still loses after
    ``attempts`` is raised; the API answers it 409 ``conflict``.
    """

    def decorate(work: Callable) -> Callable:
        @functools.wraps(work)
        def run(*args, **kwargs):
            for attempt in range(1, attempts + 1):
                try:
                    return work(*args, **kwargs)
                except peewee.OperationalError as exc:
                    if (
                        attempt == attempts
                        or not is_lock_conflict(exc)
                        or database.in_transaction()
                    ):
                        raise
                    log.info(
                        "%s lost a lock race (%s), attempt %d of %d",
                        work.__name__,
                        exc.args[0],
                        attempt,
                        attempts,
                    )
                    time.sleep(random.uniform(0, 0.005 * attempt))

        return run

    return decorate
