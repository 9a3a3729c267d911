"""Device tokens over HTTP: ownership, idempotence and the error contract."""

from __future__ import annotations

import pytest

from app.models import DeviceToken, RemovedToken
from tests.api.helpers import apns_token, bearer, fcm_token, login

REGISTER = "/apis/v1/pushtokens/register"


@pytest.fixture
def alice_token(client, alice):
    return login(client, alice)


def _register(client, token, wallet, device_token, platform="ios", **extra):
    body = {
        "wallet": wallet,
        "device_token": device_token,
        "platform": platform,
        **extra,
    }
    return client.post(REGISTER, json=body, headers=bearer(token))


def test_register_with_the_current_apps_body(client, alice, alice_token):
    answer = _register(
        client,
        alice_token,
        f"eip155:{alice.address}",
        apns_token(),
        apn_token=apns_token(2),
    )

    assert answer.status_code == 201
    body = answer.get_json()
    assert body["result"] == "created"
    assert body["device"]["wallet"] == alice.address.lower()
    assert body["device"]["has_apn_token"] is True
    row = DeviceToken.get()
    assert (row.wallet, row.token, row.voip_token) == (
        alice.address.lower(),
        apns_token(),
        apns_token(2),
    )


@pytest.mark.parametrize(
    "form", ["{a}", "{l}", "eip155:{a}", "eip155:1:{a}", "eip155:31337:{l}"]
)
def test_every_wallet_form_is_stored_as_one(client, alice, alice_token, form):
    wallet = form.format(a=alice.address, l=alice.address.lower())

    answer = _register(client, alice_token, wallet, fcm_token(), "android")

    assert answer.status_code == 201
    assert DeviceToken.get().wallet == alice.address.lower()


def test_registering_twice_changes_nothing_and_says_so(client, alice, alice_token):
    first = _register(client, alice_token, alice.address, apns_token())
    stamp = DeviceToken.get().updated_at

    again = _register(client, alice_token, alice.address, apns_token().upper())

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["result"] == "unchanged"
    assert DeviceToken.select().count() == 1
    assert DeviceToken.get().updated_at == stamp


def test_token_registered_by_a_second_wallet_moves_to_it(
    client, alice, bob, alice_token
):
    _register(client, alice_token, alice.address, fcm_token(), "android")
    bob_token = login(client, bob)

    moved = _register(client, bob_token, bob.address, fcm_token(), "android")

    assert moved.get_json()["result"] == "moved"
    assert DeviceToken.get().wallet == bob.address.lower()
    listed = client.get("/apis/v1/pushtokens", headers=bearer(alice_token))
    assert listed.get_json()["devices"] == []


def test_stolen_session_cannot_register_for_another_wallet(
    client, alice, bob, alice_token
):
    answer = _register(client, alice_token, bob.address, apns_token())

    assert answer.status_code == 403
    assert answer.get_json()["error"] == "wallet_mismatch"
    assert DeviceToken.select().count() == 0


def test_another_wallets_token_cannot_be_changed_or_deleted(
    client, alice, bob, alice_token
):
    bob_token = login(client, bob)
    device = _register(client, bob_token, bob.address, apns_token()).get_json()
    ref = str(device["device"]["id"])

    for answer in (
        client.patch(
            f"/apis/v1/pushtokens/{ref}",
            json={"platform": "android"},
            headers=bearer(alice_token),
        ),
        client.delete(f"/apis/v1/pushtokens/{ref}", headers=bearer(alice_token)),
        client.delete(
            f"/apis/v1/pushtokens/{apns_token()}", headers=bearer(alice_token)
        ),
    ):
        assert answer.status_code == 403
        assert answer.get_json()["error"] == "foreign_token"
    assert DeviceToken.get().platform == "ios"


def test_list_shows_only_the_session_wallets_devices(client, alice, bob, alice_token):
    _register(client, alice_token, alice.address, apns_token(1))
    _register(client, alice_token, alice.address, fcm_token(2), "web")
    bob_token = login(client, bob)
    _register(client, bob_token, bob.address, apns_token(3))

    devices = client.get("/apis/v1/pushtokens", headers=bearer(alice_token)).get_json()

    assert [d["platform"] for d in devices["devices"]] == ["ios", "web"]
    assert all(apns_token(1) not in str(d) for d in devices["devices"])


def test_rotate_a_token_by_its_current_value(client, alice, alice_token):
    _register(client, alice_token, alice.address, fcm_token(1), "android")

    answer = client.patch(
        f"/apis/v1/pushtokens/{fcm_token(1)}",
        json={"device_token": fcm_token(2)},
        headers=bearer(alice_token),
    )

    assert answer.status_code == 200
    assert answer.get_json()["result"] == "updated"
    assert [r.token for r in DeviceToken.select()] == [fcm_token(2)]


def test_rotating_onto_a_token_of_another_wallet_takes_it_over(
    client, alice, bob, alice_token
):
    bob_token = login(client, bob)
    _register(client, bob_token, bob.address, fcm_token(9), "android")
    mine = _register(client, alice_token, alice.address, fcm_token(1), "android")

    client.patch(
        f"/apis/v1/pushtokens/{mine.get_json()['device']['id']}",
        json={"device_token": fcm_token(9)},
        headers=bearer(alice_token),
    )

    rows = [(r.wallet, r.token) for r in DeviceToken.select()]
    assert rows == [(alice.address.lower(), fcm_token(9))]
    assert RemovedToken.get().reason == "moved"


def test_changing_platform_validates_the_token_for_it(client, alice, alice_token):
    _register(client, alice_token, alice.address, apns_token())

    answer = client.patch(
        f"/apis/v1/pushtokens/{apns_token()}",
        json={"platform": "android"},
        headers=bearer(alice_token),
    )

    assert answer.status_code == 422
    assert answer.get_json()["error"] == "bad_token"
    assert DeviceToken.get().platform == "ios"


def test_apn_token_null_removes_it(client, alice, alice_token):
    _register(client, alice_token, alice.address, apns_token(), apn_token=apns_token(2))

    answer = client.patch(
        f"/apis/v1/pushtokens/{apns_token()}",
        json={"apn_token": None},
        headers=bearer(alice_token),
    )

    assert answer.get_json()["device"]["has_apn_token"] is False
    assert DeviceToken.get().voip_token is None


def test_empty_update_is_refused(client, alice, alice_token):
    _register(client, alice_token, alice.address, apns_token())

    answer = client.patch(
        f"/apis/v1/pushtokens/{apns_token()}", json={}, headers=bearer(alice_token)
    )

    assert answer.get_json()["error"] == "invalid_body"


def test_unknown_device_is_not_found(client, alice_token):
    for answer in (
        client.delete("/apis/v1/pushtokens/12345", headers=bearer(alice_token)),
        client.patch(
            "/apis/v1/pushtokens/nope",
            json={"platform": "web"},
            headers=bearer(alice_token),
        ),
    ):
        assert answer.status_code == 404
        assert answer.get_json()["error"] == "not_found"


def test_delete_one_then_all_logs_out(client, alice, alice_token):
    _register(client, alice_token, alice.address, apns_token(1))
    _register(client, alice_token, alice.address, apns_token(2))
    _register(client, alice_token, alice.address, apns_token(3))

    one = client.delete(
        f"/apis/v1/pushtokens/{apns_token(1)}", headers=bearer(alice_token)
    )
    everything = client.delete("/apis/v1/pushtokens", headers=bearer(alice_token))

    assert one.status_code == 204
    assert everything.get_json() == {"deleted": 2}
    assert DeviceToken.select().count() == 0
    assert RemovedToken.select().count() == 3
    after = client.get("/apis/v1/pushtokens", headers=bearer(alice_token))
    assert after.get_json()["error"] == "invalid_session"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"wallet": "0x1234"}, "invalid_address"),
        ({"wallet": "cosmos:1:0xabc"}, "invalid_address"),
        # str.isdigit() takes superscripts and other digits int() refuses.
        ({"wallet": "eip155:\u00b2:0x" + "ab" * 20}, "invalid_address"),
        ({"wallet": "eip155:\u0661:0x" + "ab" * 20}, "invalid_address"),
        ({"wallet": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}, "bad_checksum"),
        ({"platform": "blackberry"}, "unsupported_platform"),
        ({"device_token": "abc"}, "bad_token"),
        ({"device_token": "g" * 64}, "bad_token"),
        ({"device_token": "a" * 99}, "bad_token"),
        ({"platform": "android", "device_token": "a" * 99}, "bad_token"),
        ({"platform": "android", "device_token": "a" * 256}, "bad_token"),
        ({"platform": "web", "device_token": "a/b" * 30}, "bad_token"),
        ({"platform": "android", "device_token": "é" * 100}, "bad_token"),
        ({"platform": "android", "apn_token": "ab" * 32}, "bad_token"),
        ({"apn_token": "xyz"}, "bad_token"),
        ({"extra": 1}, "unknown_field"),
        ({"platform": 5}, "invalid_body"),
        ({"wallet": None}, "invalid_body"),
        ({"device_token": ""}, "invalid_body"),
    ],
)
def test_each_bad_input_has_its_code_and_writes_nothing(
    client, alice, alice_token, body, code
):
    full = {
        "wallet": alice.address,
        "device_token": apns_token(),
        "platform": "ios",
        **body,
    }

    answer = client.post(REGISTER, json=full, headers=bearer(alice_token))

    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()
    assert error["error"] == code
    assert set(error) >= {"code", "status", "message", "error"}
    assert error["code"] == 422
    assert DeviceToken.select().count() == 0


def test_missing_field_is_invalid_body(client, alice_token):
    answer = client.post(
        REGISTER, json={"platform": "ios"}, headers=bearer(alice_token)
    )

    assert answer.get_json()["error"] == "invalid_body"
    assert set(answer.get_json()["errors"]["json"]) == {"wallet", "device_token"}


def test_body_that_is_not_json(client, alice_token):
    answer = client.post(
        REGISTER,
        data="{not json",
        headers={**bearer(alice_token), "Content-Type": "application/json"},
    )

    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_json"


def test_body_too_large(client, alice, alice_token):
    body = {"wallet": alice.address, "device_token": "a" * 20000, "platform": "ios"}

    answer = client.post(REGISTER, json=body, headers=bearer(alice_token))

    assert answer.status_code == 413
    assert answer.get_json()["error"] == "body_too_large"


def test_unknown_route_and_method_answer_in_the_contract(client):
    missing = client.get("/apis/v1/nothing")
    wrong = client.put("/apis/v1/pushtokens/register")

    assert (missing.status_code, missing.get_json()["error"]) == (404, "not_found")
    assert (wrong.status_code, wrong.get_json()["error"]) == (405, "method_not_allowed")


def test_register_without_session_is_refused_by_default(client, alice):
    answer = client.post(
        REGISTER,
        json={"wallet": alice.address, "device_token": apns_token(), "platform": "ios"},
    )

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "missing_session"


def test_legacy_switch_accepts_the_unauthenticated_call(make_app, alice):
    client = make_app(LEGACY_UNAUTHENTICATED_REGISTER="true").test_client()

    answer = client.post(
        REGISTER,
        json={
            "wallet": f"eip155:{alice.address}",
            "device_token": apns_token(),
            "platform": "ios",
        },
    )

    assert answer.status_code == 201
    assert DeviceToken.get().wallet == alice.address.lower()


@pytest.mark.parametrize(
    "raw",
    [b"[" * 15000, b'{"message":' * 1400, b"\xff\xfe{", b'{"wallet": "\\ud800"}'],
)
@pytest.mark.parametrize("path", [REGISTER, "/apis/v1/auth/login"])
def test_hostile_json_is_refused_without_a_server_error(client, alice_token, raw, path):
    answer = client.post(
        path,
        data=raw,
        headers={**bearer(alice_token), "Content-Type": "application/json"},
    )

    assert answer.status_code in (400, 422)
    assert answer.get_json()["error"] in (
        "invalid_json",
        "invalid_body",
        "unknown_field",
    )


def test_the_times_told_at_registration_are_those_listed_later(
    client, alice, alice_token
):
    told = _register(client, alice_token, alice.address, apns_token()).get_json()

    listed = client.get("/apis/v1/pushtokens", headers=bearer(alice_token))

    (device,) = listed.get_json()["devices"]
    assert (device["created_at"], device["updated_at"]) == (
        told["device"]["created_at"],
        told["device"]["updated_at"],
    )
