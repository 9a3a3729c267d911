"""devstack.signin against the app served over real HTTP."""

from __future__ import annotations

import threading

import pytest
import requests
from eth_account import Account
from werkzeug.serving import make_server

from devstack.services import free_port
from devstack.signin import sign_in
from tests.api.helpers import apns_token, bearer


@pytest.fixture
def base_url(make_app):
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    app = make_app(SIWE_DOMAIN=f"127.0.0.1:{port}", SIWE_ALLOWED_ORIGINS=origin)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield origin
    server.shutdown()
    thread.join(5)


def test_sign_in_then_register_over_http(base_url):
    account = Account.create()

    token = sign_in(base_url, account.key.to_0x_hex())
    answer = requests.post(
        f"{base_url}/apis/v1/pushtokens/register",
        json={
            "wallet": f"eip155:31337:{account.address}",
            "device_token": apns_token(),
            "platform": "ios",
        },
        headers=bearer(token),
        timeout=10,
    )

    assert answer.status_code == 201
    assert answer.json()["device"]["wallet"] == account.address.lower()


def test_sign_in_reports_a_refusal(base_url):
    with pytest.raises(RuntimeError, match="chain_not_allowed"):
        sign_in(base_url, Account.create().key.to_0x_hex(), chain_id=56)
