"""A Redis that refuses writes or hangs, on a real server of the test's own:
the API answers 503 where it needs Redis, in bounded time, gets by where a
copy is optional, and never leaves half a change behind."""

from __future__ import annotations

import os
import signal
import threading

import pytest
import redis as redis_client

from app.models import ApiSession, DeviceToken, SignInNonce
from devstack.services import free_port, start_valkey, stop
from tests.api.helpers import apns_token, bearer, login, signed_message

REGISTER = "/apis/v1/pushtokens/register"


@pytest.fixture
def valkey(tmp_path):
    """A Valkey server this test may misconfigure or freeze, and its socket."""
    sock = tmp_path / "valkey.sock"
    proc = start_valkey(sock)
    yield proc, sock
    os.kill(proc.pid, signal.SIGCONT)
    stop(proc)


@pytest.fixture
def own_redis(valkey):
    """A connection to that server, and its URL."""
    _, sock = valkey
    conn = redis_client.Redis(unix_socket_path=str(sock))
    yield conn, f"unix://{sock}"
    conn.close()


def _out_of_memory(conn: redis_client.Redis) -> None:
    conn.config_set("maxmemory-policy", "noeviction")
    conn.config_set("maxmemory", 1)


def _read_only(conn: redis_client.Redis) -> None:
    conn.replicaof("127.0.0.1", free_port())


@pytest.mark.parametrize("refuse", [_out_of_memory, _read_only])
def test_redis_refusing_writes_answers_unavailable(make_app, own_redis, refuse):
    conn, url = own_redis
    client = make_app(REDIS_URL=url).test_client()
    refuse(conn)

    answers = [
        client.post("/apis/v1/auth/nonce"),
        client.post(REGISTER, json={}, headers=bearer("x" * 43)),
    ]

    assert [a.status_code for a in answers] == [503, 503]
    assert {a.get_json()["error"] for a in answers} == {"unavailable"}


def test_a_session_copy_redis_refuses_does_not_fail_sign_in(make_app, own_redis, alice):
    conn, url = own_redis
    client = make_app(REDIS_URL=url, RATE_LIMITS_ENABLED="false").test_client()
    body = signed_message(client, alice)
    _out_of_memory(conn)

    signed_in = client.post("/apis/v1/auth/login", json=body)
    token = signed_in.get_json()["token"]
    again = client.get("/apis/v1/auth/session", headers=bearer(token))

    assert signed_in.status_code == 200
    assert again.status_code == 200
    assert SignInNonce.select().count() == 0
    assert not conn.keys("*session*")


@pytest.mark.parametrize("route", ["/apis/v1/pushtokens", "/apis/v1/auth/logout"])
def test_ending_a_session_redis_cannot_mark_changes_nothing(
    make_app, own_redis, alice, route
):
    conn, url = own_redis
    client = make_app(REDIS_URL=url, RATE_LIMITS_ENABLED="false").test_client()
    token = login(client, alice)
    body = {"wallet": alice.address, "device_token": apns_token(), "platform": "ios"}
    assert client.post(REGISTER, json=body, headers=bearer(token)).status_code == 201
    _out_of_memory(conn)

    method = client.delete if route.endswith("pushtokens") else client.post
    answer = method(route, headers=bearer(token))

    assert answer.status_code == 503
    assert answer.get_json()["error"] == "unavailable"
    assert DeviceToken.select().count() == 1
    assert ApiSession.select().count() == 1
    assert client.get("/apis/v1/auth/session", headers=bearer(token)).status_code == 200


def test_a_hung_redis_costs_a_request_a_bounded_wait_and_a_503(make_app, valkey, alice):
    proc, sock = valkey
    app = make_app(REDIS_URL=f"unix://{sock}", API_REDIS_TIMEOUT_SECONDS="0.5")
    client = app.test_client()
    token = login(client, alice)
    os.kill(proc.pid, signal.SIGSTOP)
    answers = []

    def ask() -> None:
        answers.append(client.get("/apis/v1/pushtokens", headers=bearer(token)))
        answers.append(client.post(REGISTER, json={}, headers=bearer(token)))

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    asking.join(timeout=60)  # Redis stays frozen until the test ends

    assert not asking.is_alive(), "requests still waiting on a frozen Redis"
    assert [a.status_code for a in answers] == [200, 503]
    assert answers[1].get_json()["error"] == "unavailable"
