"""``python -m devstack.demo``: drive the running local system end to end.

Creates a channel whose meta lives on the local IPFS gateway, subscribes
three wallets, signs each in through the API and registers their phones,
then sends a broadcast, a targeted and a subset notification on chain, one
inline (``2+{json}``) and two through IPFS (``1+<CID>``). It waits until the
fake FCM and APNs servers have received every expected push and prints them.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import requests
from eth_account import Account

from app.config import VAR

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"

# The phones of the demo: (wallet index, platform, device token).
PHONES = [
    (0, "ios", "a1" * 32),
    (1, "android", "fcm-demo-android-token-bob:" + "B" * 120),
    (2, "ios", "c3" * 32),
    (2, "android", "fcm-demo-android-token-carol:" + "C" * 120),
]


@dataclass(frozen=True)
class Expected:
    wallet: int
    title: str
    body: str


def anvil_key(index: int) -> str:
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(
        ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"
    )
    return account.key.to_0x_hex()


def payload(kind: int, title: str, body: str, recipients: object = None) -> dict:
    data = {
        "type": str(kind),
        "secret": "",
        "asub": title,
        "amsg": body,
        "acta": "https://example.org/app",
        "aimg": "",
        "etime": None,
        "hidden": "0",
        "silent": "0",
    }
    message = {"notification": {"title": title, "body": body}, "data": data}
    if recipients is not None:
        message["recipients"] = recipients
    return message


def ipfs_add(ipfs_url: str, content: bytes) -> str:
    answer = requests.post(f"{ipfs_url}/_fake/add", data=content, timeout=5)
    answer.raise_for_status()
    return answer.json()["cid"]


def run(urls: dict[str, str], chains_file, timeout: float = 60.0) -> list[dict]:
    """Run the demo against the system at ``urls``; return pushes received."""
    from devstack.chain import EpnsDriver, load_deployment

    deployment = load_deployment(chains_file)
    chain = EpnsDriver(urls["anvil"], deployment)
    channel = Account.from_key(anvil_key(1)).address
    keys = [anvil_key(i) for i in (2, 3, 4)]
    wallets = [Account.from_key(k).address for k in keys]

    meta = {
        "name": "Demo Alerts",
        "info": "Alerts from the local demo channel",
        "url": "https://example.org",
        "icon": "https://example.org/icon.png",
    }
    meta_cid = ipfs_add(urls["ipfs"], json.dumps(meta).encode())
    chain.add_channel(channel, f"1+{meta_cid}".encode())
    for wallet in wallets:
        chain.subscribe(channel, wallet)
    print(f"channel {channel} created; subscribers: {', '.join(wallets)}")

    for index, platform, token in PHONES:
        register_phone(
            urls["api"],
            deployment.chain_id,
            keys[index],
            wallets[index],
            platform,
            token,
        )
    print(f"registered {len(PHONES)} phones through {urls['api']}")

    broadcast = payload(1, "Market update", "ETH crossed 4,000")
    targeted = payload(3, "Your order filled", "100 ETH at 7:00")
    subset = payload(
        4,
        "Governance vote",
        "Proposal 12 closes tonight",
        recipients={f"eip155:{wallets[0]}": None, f"eip155:{wallets[2]}": None},
    )
    targeted_cid = ipfs_add(urls["ipfs"], json.dumps(targeted).encode())
    subset_cid = ipfs_add(urls["ipfs"], json.dumps(subset).encode())
    chain.send_notification(channel, channel, b"2+" + json.dumps(broadcast).encode())
    chain.send_notification(channel, wallets[1], f"1+{targeted_cid}".encode())
    chain.send_notification(channel, channel, f"1+{subset_cid}".encode())
    print("sent a broadcast (inline), a targeted and a subset notification (IPFS)")

    expected = len(PHONES) + 1 + 3
    return wait_for_pushes(urls, expected, timeout)


def register_phone(
    api: str, chain_id: int, key: str, wallet: str, platform: str, token: str
) -> None:
    from devstack.signin import sign_in

    bearer = sign_in(api, key, chain_id=chain_id)
    answer = requests.post(
        f"{api}/apis/v1/pushtokens/register",
        json={
            "wallet": f"eip155:{wallet}",
            "device_token": token,
            "platform": platform,
        },
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=10,
    )
    if answer.status_code >= 300:
        raise RuntimeError(f"register failed: {answer.status_code} {answer.text}")


def received(urls: dict[str, str]) -> list[dict]:
    pushes = []
    for name in ("fcm", "apns_control"):
        if name in urls:
            answer = requests.get(f"{urls[name]}/_fake/received", timeout=5)
            pushes += answer.json()
    return pushes


def wait_for_pushes(urls: dict[str, str], expected: int, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    pushes = received(urls)
    while len(pushes) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        pushes = received(urls)
    return pushes


def main() -> int:
    status = VAR / "devstack.json"
    if not status.exists():
        print(
            "demo: the local system is not running; start it with `make up`",
            file=sys.stderr,
        )
        return 2
    urls = json.loads(status.read_text())
    started = time.monotonic()
    pushes = run(urls, VAR / "chains.json")

    print(
        f"\n{len(pushes)} pushes received by the fakes in "
        f"{time.monotonic() - started:.1f} s:"
    )
    for push in pushes:
        print(
            f"  {push['platform']:<8} …{push['token'][-6:]}  "
            f"{push['title']!r}: {push['body']!r}"
        )
    return 0 if len(pushes) >= len(PHONES) + 4 else 1


if __name__ == "__main__":
    sys.exit(main())
