"""Sessions read from their Redis copies: no SQL per request, nothing revived."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from app import session_cache, sessions
from app.models import ApiSession, utcnow
from app.sessions import SessionInfo
from tests.api.helpers import apns_token, bearer, login


@pytest.fixture
def sql(caplog):
    """The SQL statements peewee sends while the test runs."""
    caplog.set_level(logging.DEBUG, logger="peewee")

    def statements() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "peewee"]

    return statements


def _register(client, token, wallet, n=1):
    body = {"wallet": wallet, "device_token": apns_token(n), "platform": "ios"}
    return client.post("/apis/v1/pushtokens/register", json=body, headers=bearer(token))


def test_signed_in_requests_read_no_session_row(client, alice, sql):
    token = login(client, alice)
    before = len(sql())

    assert _register(client, token, alice.address).status_code == 201
    assert client.get("/apis/v1/pushtokens", headers=bearer(token)).status_code == 200

    assert not [s for s in sql()[before:] if "api_session" in s]


def test_the_copy_expires_with_the_session(client, alice, redis):
    token = login(client, alice)
    row = ApiSession.get()

    left_ms = redis.pttl(session_cache.key(token))
    session_ms = (row.expires_at - utcnow()) / dt.timedelta(milliseconds=1)

    assert 0 < left_ms <= session_ms + 1


def test_the_expiry_read_from_the_copy_is_the_one_stored(client, alice):
    token = login(client, alice)

    answer = client.get("/apis/v1/auth/session", headers=bearer(token))

    told = dt.datetime.fromisoformat(answer.get_json()["expires_at"])
    assert told.replace(tzinfo=None) == ApiSession.get().expires_at


def test_a_lost_copy_is_read_again_from_the_database(client, alice, redis, sql):
    token = login(client, alice)
    redis.flushdb()

    assert _register(client, token, alice.address).status_code == 201
    assert [s for s in sql() if "api_session" in s]
    assert redis.exists(session_cache.key(token))


def test_logged_out_session_stays_out_after_a_stale_copy(app, alice, redis):
    client = app.test_client()
    token = login(client, alice)
    session = client.get("/apis/v1/auth/session", headers=bearer(token)).get_json()
    info = SessionInfo(
        ApiSession.get().id,
        session["wallet"],
        session["chain_id"],
        ApiSession.get().expires_at,
    )

    assert client.post("/apis/v1/auth/logout", headers=bearer(token)).status_code == 204
    # A lookup that read the row just before log-out copies it now.
    app.extensions["epns_sessions"].fill(token, info)

    answer = client.get("/apis/v1/pushtokens", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "invalid_session"


def test_logged_out_session_stays_out_when_redis_loses_everything(client, alice, redis):
    token = login(client, alice)
    assert (
        client.delete("/apis/v1/pushtokens", headers=bearer(token)).status_code == 200
    )

    redis.flushdb()

    answer = _register(client, token, alice.address)
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "invalid_session"


def test_an_expired_copy_is_refused(client, alice, redis):
    token = login(client, alice)
    key = session_cache.key(token)
    number, wallet, chain_id, _ = redis.get(key).decode().split(" ")
    past = session_cache.encode(
        SessionInfo(int(number), wallet, int(chain_id), utcnow() - dt.timedelta(1))
    )
    redis.set(key, past, ex=60)

    answer = client.get("/apis/v1/pushtokens", headers=bearer(token))

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "session_expired"


def test_wallet_limit_counts_when_the_copy_was_lost(make_app, alice, redis):
    client = make_app(RATE_LIMIT_WRITE_WALLET="1/minute").test_client()
    token = login(client, alice)
    redis.delete(session_cache.key(token))

    codes = [_register(client, token, alice.address, n).status_code for n in (1, 2)]

    assert codes == [201, 429]


def test_revoked_token_counts_as_anonymous(make_app, alice, redis):
    client = make_app(RATE_LIMIT_WRITE_WALLET="1/minute").test_client()
    token = login(client, alice)
    client.post("/apis/v1/auth/logout", headers=bearer(token))

    codes = [_register(client, token, alice.address, n).status_code for n in (1, 2)]

    assert codes == [401, 429]
    assert redis.keys("LIMITS:*anonymous:127.0.0.1/writes-wallet*")


def test_a_lookup_in_flight_does_not_revive_a_session_ended_meanwhile(
    app, alice, redis, monkeypatch
):
    client = app.test_client()
    token = login(client, alice)
    redis.delete(session_cache.key(token))
    read_row = sessions.authenticate

    def read_then_log_out_elsewhere(bearer_token):
        info = read_row(bearer_token)  # the row is read while the session lives
        monkeypatch.setattr(sessions, "authenticate", read_row)
        # Meanwhile another request logs out, and Redis then loses the
        # tombstone (a restart without persistence, an eviction).
        app.extensions["epns_sessions"].revoke(bearer_token, info)
        sessions.revoke(info)
        redis.flushdb()
        return info

    monkeypatch.setattr(sessions, "authenticate", read_then_log_out_elsewhere)
    in_flight = client.get("/apis/v1/auth/session", headers=bearer(token))
    after = client.get("/apis/v1/auth/session", headers=bearer(token))

    assert in_flight.status_code == 401
    assert after.status_code == 401
    assert not redis.exists(session_cache.key(token))


def test_an_operator_ends_every_session_of_a_wallet(app, alice, bob, redis):
    client = app.test_client()
    theirs, other = login(client, alice), login(client, bob)
    assert redis.exists(session_cache.key(theirs))

    ended = app.test_cli_runner().invoke(args=["epns", "end-sessions", alice.address])

    assert ended.exit_code == 0, ended.output
    assert "1 session(s) ended" in ended.output
    assert (
        client.get("/apis/v1/auth/session", headers=bearer(theirs)).status_code == 401
    )
    assert client.get("/apis/v1/auth/session", headers=bearer(other)).status_code == 200
