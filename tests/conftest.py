"""Shared fixtures: a real database and a real Redis-compatible server.

``TEST_DATABASE_URL`` picks the database (default: a SQLite file per test
session) and ``TEST_REDIS_URL`` the Redis (default: the embedded Valkey
server, started once per session). CI runs the suite both ways. A server
that is configured but unreachable fails the run: it is never skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config import Settings, load_settings
from app.db import database, init_database
from app.models import ALL_MODELS
from devstack.services import start_valkey, stop
from migrations import upgrade

pytest_plugins = ["tests.chain_fixtures"]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory):
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    sock = Path(tmp_path_factory.mktemp("valkey")) / "valkey.sock"
    proc = start_valkey(sock)
    yield f"unix://{sock}"
    stop(proc)


@pytest.fixture(scope="session")
def _schema(database_url: str):
    db = init_database(database_url)
    db.connect(reuse_if_open=True)
    upgrade(db)
    db.close()
    return db


@pytest.fixture
def db(_schema):
    """The migrated test database, emptied before each test."""
    database.initialize(_schema)
    database.connect(reuse_if_open=True)
    with database.atomic():
        for model in reversed(ALL_MODELS):
            model.delete().execute()
    yield database
    if not database.is_closed():
        database.close()


@pytest.fixture
def redis(redis_url: str):
    """A flushed Redis connection."""
    from app.queue import connect_redis

    conn = connect_redis(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    """Settings for an app under test, on the test database and Redis."""
    return load_settings(
        {
            "APP_ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CHAINS_FILE": str(tmp_path / "chains.json"),
        }
    )
