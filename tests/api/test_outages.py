"""A dead Redis or database answers 503 in the error contract, never 500."""

from __future__ import annotations

from devstack.services import free_port


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
