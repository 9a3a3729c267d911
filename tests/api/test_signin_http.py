"""Sign-In with Ethereum over HTTP: each check refuses with its own code."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from eth_account import Account

from app import session_cache
from app.models import ApiSession, SignInNonce, utcnow
from devstack.signin import sign
from tests.api.helpers import bearer, login, signed_message


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_nonce_announces_what_the_message_must_carry(client):
    first = client.post("/apis/v1/auth/nonce").get_json()
    second = client.post("/apis/v1/auth/nonce").get_json()

    assert first["nonce"] != second["nonce"]
    assert len(first["nonce"]) >= 16 and first["nonce"].isalnum()
    assert first["domain"] == "localhost:5000"
    assert first["uri"] == "http://localhost:5000"
    assert 31337 in first["chain_ids"]
    assert first["expires_at"].endswith("+00:00")


def test_eoa_signs_in_and_gets_a_session_for_its_wallet(client, alice):
    answer = client.post("/apis/v1/auth/login", json=signed_message(client, alice))

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["wallet"] == alice.address.lower()
    session = client.get("/apis/v1/auth/session", headers=bearer(body["token"]))
    assert session.get_json()["wallet"] == alice.address.lower()
    assert session.get_json()["chain_id"] == 31337


def test_session_token_is_stored_only_as_a_hash(client, alice):
    token = login(client, alice)

    row = ApiSession.get()
    assert token not in row.token_hash and len(row.token_hash) == 64


def test_replayed_sign_in_is_refused(client, alice):
    body = signed_message(client, alice)
    assert client.post("/apis/v1/auth/login", json=body).status_code == 200

    again = client.post("/apis/v1/auth/login", json=body)

    assert again.status_code == 401
    assert again.get_json()["error"] == "nonce_invalid"
    assert ApiSession.select().count() == 1


def test_nonce_never_issued_is_refused(client, alice):
    answer = client.post(
        "/apis/v1/auth/login", json=signed_message(client, alice, nonce="a" * 32)
    )
    assert answer.get_json()["error"] == "nonce_invalid"


def test_expired_nonce_is_refused(client, alice):
    body = signed_message(client, alice)
    SignInNonce.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()

    answer = client.post("/apis/v1/auth/login", json=body)

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "nonce_invalid"


def test_signature_by_another_key_is_refused_and_keeps_the_nonce(client, alice, bob):
    body = signed_message(client, alice)
    forged = signed_message(client, bob)
    body["signature"] = forged["signature"]

    answer = client.post("/apis/v1/auth/login", json=body)

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "bad_signature"
    assert SignInNonce.select().count() == 2
    assert ApiSession.select().count() == 0


@pytest.mark.parametrize(
    "signature",
    [
        *("0x", "0x00", "0x" + "00" * 65, "0x" + "ff" * 65, "0x" + "ab" * 64),
        *("abc", "0xzz", "0x" + "00" * 65 + "\n"),
    ],
)
def test_signature_that_is_no_signature_is_refused(client, alice, signature):
    body = {**signed_message(client, alice), "signature": signature}

    answer = client.post("/apis/v1/auth/login", json=body)

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "bad_signature"


def test_tampered_message_is_refused(client, alice):
    body = signed_message(client, alice)
    body["message"] = body["message"].replace("Chain ID: 31337", "Chain ID: 1")

    answer = client.post("/apis/v1/auth/login", json=body)

    assert answer.get_json()["error"] == "bad_signature"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"domain": "evil.example"}, "domain_mismatch"),
        ({"uri": "https://evil.example/login"}, "uri_mismatch"),
        ({"uri": "http://localhost:50001"}, "uri_mismatch"),
        ({"chain_id": 56}, "chain_not_allowed"),
    ],
)
def test_message_for_another_relying_party_is_refused(client, alice, fields, code):
    answer = client.post(
        "/apis/v1/auth/login", json=signed_message(client, alice, **fields)
    )

    assert answer.status_code == 401
    assert answer.get_json()["error"] == code


def test_uri_under_an_allowed_origin_is_accepted(client, alice):
    login(client, alice, uri="http://localhost:5000/app/login")


def _with_times(client, account, **lines: str) -> dict:
    """A login body whose issued-at and optional fields are set by hand."""
    body = signed_message(client, account)
    text = body["message"]
    head, _, issued = text.rpartition("Issued At: ")
    text = head + "Issued At: " + lines.pop("issued", issued)
    for name, value in lines.items():
        text += f"\n{name}: {value}"

    return {"message": text, "signature": sign(text, account.key)}


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ({"issued": "+3600"}, "issued_at_invalid"),
        ({"issued": "-3600"}, "issued_at_invalid"),
        ({"Expiration Time": "-1"}, "message_expired"),
        ({"Not Before": "+3600"}, "message_not_yet_valid"),
    ],
)
def test_times_of_the_message_are_checked(client, alice, lines, code):
    now = dt.datetime.now(dt.UTC)
    resolved = {k: _iso(now + dt.timedelta(seconds=int(v))) for k, v in lines.items()}
    answer = client.post(
        "/apis/v1/auth/login", json=_with_times(client, alice, **resolved)
    )

    assert answer.status_code == 401
    assert answer.get_json()["error"] == code


def test_session_ends_no_later_than_the_message_expiry(client, alice):
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    body = _with_times(client, alice, **{"Expiration Time": _iso(expiry)})

    answer = client.post("/apis/v1/auth/login", json=body)

    assert answer.status_code == 200
    ends = dt.datetime.fromisoformat(answer.get_json()["expires_at"])
    assert ends <= expiry


def test_time_without_offset_is_a_bad_message(client, alice):
    body = _with_times(client, alice, issued="2026-12-04T16:00:00")

    answer = client.post("/apis/v1/auth/login", json=body)

    assert answer.status_code == 422
    assert answer.get_json()["error"] == "bad_message"


@pytest.mark.parametrize(
    "message",
    ["hello", "", "x" * 5000, "localhost:5000 wants you to sign in\n0x00\n\n"],
)
def test_text_that_is_no_eip4361_message_is_refused(client, message):
    answer = client.post(
        "/apis/v1/auth/login", json={"message": message, "signature": "0x00"}
    )

    assert answer.status_code == 422
    assert answer.get_json()["error"] in ("bad_message", "invalid_body")


def test_lower_case_address_in_message_is_a_bad_message(client, alice):
    body = signed_message(client, alice)
    body["message"] = body["message"].replace(alice.address, alice.address.lower())

    answer = client.post("/apis/v1/auth/login", json=body)

    assert answer.get_json()["error"] == "bad_message"


def test_expired_session_is_refused(client, alice, redis):
    token = login(client, alice)
    ApiSession.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    redis.delete(session_cache.key(token))  # Redis drops it at the expiry

    answer = client.get("/apis/v1/pushtokens", headers=bearer(token))

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "session_expired"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_session"),
        ({"Authorization": "Bearer"}, "missing_session"),
        ({"Authorization": "Basic abc"}, "missing_session"),
        ({"Authorization": "Bearer not-a-session"}, "invalid_session"),
        ({"Authorization": "Bearer " + "x" * 5000}, "invalid_session"),
    ],
)
def test_requests_without_a_live_session_are_refused(client, headers, code):
    answer = client.get("/apis/v1/pushtokens", headers=headers)

    assert answer.status_code == 401
    assert answer.get_json()["error"] == code


def test_logout_ends_the_session(client, alice):
    token = login(client, alice)

    assert client.post("/apis/v1/auth/logout", headers=bearer(token)).status_code == 204

    answer = client.get("/apis/v1/auth/session", headers=bearer(token))
    assert answer.get_json()["error"] == "invalid_session"


def test_concurrent_sign_ins_all_succeed(app):
    """Nonce sweeps and logins from many threads neither deadlock nor fail."""
    accounts = [Account.create() for _ in range(8)]
    barrier = threading.Barrier(len(accounts))
    statuses: list[int] = []

    def worker(account):
        client = app.test_client()
        barrier.wait()
        body = signed_message(client, account)
        statuses.append(client.post("/apis/v1/auth/login", json=body).status_code)

    threads = [threading.Thread(target=worker, args=(a,)) for a in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * len(accounts)
    assert ApiSession.select().count() == len(accounts)


@pytest.mark.parametrize(
    "line",
    [
        "Expiration Time: 9999-12-31T23:59:59-12:00",
        "Not Before: 0001-01-01T00:00:00+01:00",
    ],
)
def test_a_time_with_no_utc_instant_is_a_bad_message(client, alice, line):
    body = signed_message(client, alice)
    text = body["message"] + "\n" + line

    answer = client.post(
        "/apis/v1/auth/login",
        json={"message": text, "signature": sign(text, alice.key)},
    )

    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"] == "bad_message"
    assert ApiSession.select().count() == 0
