"""Rate limits per IP and per wallet, counted in the real Redis."""

from __future__ import annotations

import secrets

import redis.connection

from app.api.counters import COUNT
from app.models import DeviceToken
from tests.api.helpers import apns_token, bearer, login, signed_message


def test_sign_in_per_ip_answers_429_with_retry_after(make_app):
    client = make_app(RATE_LIMIT_SIGNIN_IP="3/minute").test_client()

    answers = [client.post("/apis/v1/auth/nonce") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.get_json()["error"] == "rate_limited"
    assert refused.get_json()["code"] == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_sign_in_per_wallet_counts_one_wallet_from_any_ip(make_app, alice, bob):
    client = make_app(RATE_LIMIT_SIGNIN_WALLET="2/minute").test_client()

    for _ in range(2):
        login(client, alice)
    body = signed_message(client, alice)
    third = client.post(
        "/apis/v1/auth/login", json=body, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )

    assert third.status_code == 429
    assert "Retry-After" in third.headers
    login(client, bob)


def test_writes_per_wallet_limit_one_wallet_only(make_app, alice, bob):
    client = make_app(RATE_LIMIT_WRITE_WALLET="2/minute").test_client()
    alice_token, bob_token = login(client, alice), login(client, bob)

    def register(token, wallet, n):
        body = {"wallet": wallet, "device_token": apns_token(n), "platform": "ios"}
        return client.post(
            "/apis/v1/pushtokens/register", json=body, headers=bearer(token)
        )

    codes = [register(alice_token, alice.address, n).status_code for n in range(3)]

    assert codes == [201, 201, 429]
    assert register(bob_token, bob.address, 7).status_code == 201
    assert DeviceToken.select().count() == 3


def test_writes_per_ip_limit(make_app, alice):
    client = make_app(RATE_LIMIT_WRITE_IP="1/minute").test_client()
    token = login(client, alice)

    first = client.delete("/apis/v1/pushtokens/1", headers=bearer(token))
    second = client.delete("/apis/v1/pushtokens/1", headers=bearer(token))

    assert (first.status_code, second.status_code) == (404, 429)
    assert client.get("/apis/v1/pushtokens", headers=bearer(token)).status_code == 200


def test_limits_can_be_switched_off(make_app):
    client = make_app(
        RATE_LIMIT_SIGNIN_IP="1/minute", RATE_LIMITS_ENABLED="false"
    ).test_client()

    assert {client.post("/apis/v1/auth/nonce").status_code for _ in range(3)} == {200}


def test_malformed_writes_count_too(make_app, alice):
    """Limits are checked before the body is parsed, so junk cannot flood."""
    client = make_app(RATE_LIMIT_WRITE_IP="2/minute").test_client()
    token = login(client, alice)

    codes = [
        client.post(
            "/apis/v1/pushtokens/register", json={"junk": n}, headers=bearer(token)
        ).status_code
        for n in range(3)
    ]

    assert codes == [422, 422, 429]


def test_a_write_counts_both_limits_in_one_redis_round_trip(
    make_app, alice, monkeypatch
):
    client = make_app().test_client()
    token = login(client, alice)
    sends = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sends.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(
        redis.connection.AbstractConnection, "send_packed_command", counting
    )
    body = {"wallet": alice.address, "device_token": apns_token(1), "platform": "ios"}
    answer = client.post(
        "/apis/v1/pushtokens/register", json=body, headers=bearer(token)
    )

    assert answer.status_code == 201
    assert len(sends) == 1


def test_retry_after_waits_for_every_breached_window(make_app, alice):
    client = make_app(
        RATE_LIMIT_WRITE_IP="1/minute", RATE_LIMIT_WRITE_WALLET="1/hour"
    ).test_client()
    token = login(client, alice)

    first = client.delete("/apis/v1/pushtokens/1", headers=bearer(token))
    second = client.delete("/apis/v1/pushtokens/1", headers=bearer(token))

    assert (first.status_code, second.status_code) == (404, 429)
    assert 60 < int(second.headers["Retry-After"]) <= 3600


def test_counts_keep_flask_limiters_keys(make_app, redis):
    client = make_app(RATE_LIMIT_SIGNIN_IP="5/minute").test_client()

    client.post("/apis/v1/auth/nonce")
    client.post("/apis/v1/auth/nonce")

    key = "LIMITS:LIMITER/epns-api/127.0.0.1/signin-ip/5/1/minute"
    assert int(redis.get(key)) == 2
    assert 0 < redis.ttl(key) <= 60


def test_counters_load_their_script_again_when_the_server_lost_it(app, redis):
    counters = app.extensions["epns_counters"]
    # A script text the server has never seen stands for one it forgot.
    counters._script = redis.register_script(f"-- {secrets.token_hex(8)}\n{COUNT}")

    assert counters.incr_all([("reload/a", 60), ("reload/b", 60)]) == [1, 1]
    assert counters.incr_all([("reload/a", 60)]) == [2]


def test_flask_limiters_per_request_hooks_are_not_installed(app):
    hooks = [
        *app.before_request_funcs.get(None, []),
        *app.after_request_funcs.get(None, []),
        *app.teardown_request_funcs.get(None, []),
    ]

    assert not [h for h in hooks if "flask_limiter" in repr(h)]


def test_unsigned_bodies_naming_a_wallet_do_not_lock_it_out(make_app, alice, bob):
    client = make_app(RATE_LIMIT_SIGNIN_WALLET="2/minute").test_client()
    forged = signed_message(client, bob, address=alice.address)  # Bob's signature

    refused = [client.post("/apis/v1/auth/login", json=forged) for _ in range(3)]

    assert {a.status_code for a in refused} == {401}
    login(client, alice)
    login(client, alice)
    third = client.post("/apis/v1/auth/login", json=signed_message(client, alice))
    assert third.status_code == 429
