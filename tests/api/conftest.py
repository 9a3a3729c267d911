"""An app on the test database and Redis, and helpers to sign in through it."""

from __future__ import annotations

import pytest
from eth_account import Account

from app import create_app
from app.config import load_settings

# Generous limits so only the rate-limit tests ever meet one.
RELAXED = {
    "RATE_LIMIT_SIGNIN_IP": "10000/minute",
    "RATE_LIMIT_SIGNIN_WALLET": "10000/minute",
    "RATE_LIMIT_WRITE_IP": "10000/minute",
    "RATE_LIMIT_WRITE_WALLET": "10000/minute",
}


@pytest.fixture
def make_app(db, redis, settings):
    """Build an app with extra environment keys on top of the test settings."""

    def build(**env: str):
        environ = {**settings.raw, **RELAXED, **env}
        app = create_app(load_settings(environ))
        app.config["TESTING"] = True
        return app

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def alice():
    return Account.create()


@pytest.fixture
def bob():
    return Account.create()
