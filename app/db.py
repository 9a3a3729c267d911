"""The database handle shared by the API, the jobs and the poller.

Models bind to ``database``, a proxy; ``init_database`` points it at the
server named by a URL. MySQL connections come from a pool that drops stale
connections and reconnects after idle disconnects (error 2006), since
gunicorn and RQ workers keep processes alive for days.
"""

from __future__ import annotations

import logging
import ssl
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
