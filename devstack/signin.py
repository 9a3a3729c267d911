"""Sign in to a running Token API over HTTP, the way the mobile app does.

Used by the demo, the end-to-end test and the benchmark: ask for a nonce,
build the EIP-4361 message for the domain and URI the server announces,
sign it with a local key and trade it for a bearer token.
"""

from __future__ import annotations

import datetime as dt

import requests
from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage

STATEMENT = "Sign in to receive EPNS notifications on this device."


def build_message(
    address: str, nonce: str, domain: str, uri: str, chain_id: int
) -> str:
    """The EIP-4361 text a wallet would show for this sign-in."""
    issued = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    return SiweMessage(
        domain=domain,
        address=address,
        statement=STATEMENT,
        uri=uri,
        version="1",
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued.replace("+00:00", "Z"),
    ).prepare_message()


def sign(message: str, private_key: str) -> str:
    """An EIP-191 personal signature of ``message``, 0x-prefixed."""
    signed = Account.sign_message(encode_defunct(text=message), private_key)
    return signed.signature.to_0x_hex()


def sign_in(
    base_url: str,
    private_key: str,
    chain_id: int = 31337,
    session: requests.Session | None = None,
    wallet: str | None = None,
) -> str:
    """Run the SIWE flow and return the bearer token.

    ``wallet`` names a contract wallet (EIP-1271) whose owner holds
    ``private_key``; by default the key's own account signs in.
    """
    http = session or requests.Session()
    base = base_url.rstrip("/")
    answer = http.post(f"{base}/apis/v1/auth/nonce", timeout=10)
    answer.raise_for_status()
    offer = answer.json()

    address = wallet or Account.from_key(private_key).address
    message = build_message(
        address, offer["nonce"], offer["domain"], offer["uri"], chain_id
    )
    login = http.post(
        f"{base}/apis/v1/auth/login",
        json={"message": message, "signature": sign(message, private_key)},
        timeout=30,
    )
    if login.status_code != 200:
        raise RuntimeError(f"sign-in refused: {login.status_code} {login.text[:300]}")
    return login.json()["token"]
