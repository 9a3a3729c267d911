"""Sign-in and token helpers shared by the API tests."""

from __future__ import annotations

from devstack.signin import build_message, sign


def signed_message(client, account, address: str | None = None, **fields) -> dict:
    """A login body: a fresh nonce in a message signed by ``account``."""
    offer = client.post("/apis/v1/auth/nonce").get_json()
    text = build_message(
        address or account.address,
        fields.pop("nonce", offer["nonce"]),
        fields.pop("domain", offer["domain"]),
        fields.pop("uri", offer["uri"]),
        fields.pop("chain_id", 31337),
    )
    for old, new in fields.pop("replace", {}).items():
        text = text.replace(old, new)
    return {"message": text, "signature": sign(text, account.key)}


def login(client, account, **fields) -> str:
    answer = client.post(
        "/apis/v1/auth/login", json=signed_message(client, account, **fields)
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def apns_token(n: int = 1) -> str:
    return f"{n:064x}"


def fcm_token(n: int = 1) -> str:
    return f"fcm{n:06d}:APA91b" + "x" * 140
