"""What a request is refused for before any rule of the registry: its
shape, its media type, its method, or no session at all."""

from __future__ import annotations

import pytest

from app.models import DeviceToken
from tests.api.helpers import apns_token, bearer, login

REGISTER = "/apis/v1/pushtokens/register"


@pytest.fixture
def alice_token(client, alice):
    return login(client, alice)


@pytest.mark.parametrize("path", [REGISTER, "/apis/v1/auth/login"])
def test_an_integer_too_long_to_decode_is_invalid_json(client, alice_token, path):
    answer = client.post(
        path,
        data=b'{"wallet": 1' + b"0" * 5000 + b"}",
        headers={**bearer(alice_token), "Content-Type": "application/json"},
    )

    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_json"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None]
)
def test_a_body_that_is_not_json_is_unsupported(
    client, alice, alice_token, content_type
):
    body = f'{{"wallet": "{alice.address}", "device_token": "{apns_token()}"}}'
    headers = bearer(alice_token)
    if content_type:
        headers["Content-Type"] = content_type

    answer = client.post(REGISTER, data=body, headers=headers)

    assert answer.status_code == 415
    assert answer.get_json()["error"] == "unsupported_media_type"
    assert DeviceToken.select().count() == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", REGISTER), ("patch", "/apis/v1/pushtokens/1")],
)
def test_without_a_session_the_body_is_not_even_read(client, method, path):
    answer = getattr(client, method)(path, json={"wallet": "nonsense", "x": 1})

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "missing_session"


def test_a_method_not_allowed_names_the_allowed_ones(client):
    answer = client.put("/apis/v1/pushtokens")

    assert answer.status_code == 405
    assert answer.get_json()["error"] == "method_not_allowed"
    allowed = {m.strip() for m in answer.headers["Allow"].split(",")}
    assert {"GET", "DELETE"} <= allowed
