"""A dead Redis or database answers 503 in the error contract, never 500."""

from __future__ import annotations

import peewee

from app import tokens
from devstack.services import free_port
from tests.api.helpers import apns_token, bearer, login


def test_dead_redis_answers_503(make_app):
    client = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0").test_client()

    answer = client.post("/apis/v1/auth/nonce")

    assert answer.status_code == 503
    assert answer.get_json()["error"] == "unavailable"


def test_dead_database_answers_503(make_app):
    dead = f"mysql://root@127.0.0.1:{free_port()}/nothing"
    client = make_app(DATABASE_URL=dead, RATE_LIMITS_ENABLED="false").test_client()

    answer = client.post("/apis/v1/auth/nonce")

    assert answer.status_code == 503
    assert answer.get_json()["error"] == "unavailable"


def test_a_lock_race_lost_on_every_try_is_a_conflict_not_an_outage(
    make_app, alice, monkeypatch
):
    client = make_app().test_client()
    token = login(client, alice)
    tries = []

    def deadlocked(wallet, form):
        tries.append(wallet)
        raise peewee.OperationalError(1213, "Deadlock found when trying to get lock")

    monkeypatch.setattr(tokens, "_upsert", deadlocked)
    body = {"wallet": alice.address, "device_token": apns_token(), "platform": "ios"}
    answer = client.post(
        "/apis/v1/pushtokens/register", json=body, headers=bearer(token)
    )

    assert answer.status_code == 409
    assert answer.get_json()["error"] == "conflict"
    assert len(tries) == 3
