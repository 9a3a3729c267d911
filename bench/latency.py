"""End-to-end latency: a notification mined on chain until its push arrives.

Runs the real local system (zero confirmations, a 1 s poll interval), one
registered phone, and sends targeted notifications one at a time, timing
from the transaction's receipt to the fake APNs server's record of the push.
Goal: p50 ≤ 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import requests
from eth_account import Account

from bench.results import record
from devstack.background import start_stack
from devstack.demo import anvil_key, payload, register_phone


def measure(samples: int = 15) -> dict[str, float]:
    from devstack.chain import EpnsDriver, load_deployment

    with tempfile.TemporaryDirectory(prefix="epns-latency-") as tmp:
        stack = start_stack(Path(tmp) / "var")
        try:
            urls = stack.urls
            deployment = load_deployment(stack.var / "chains.json")
            chain = EpnsDriver(urls["anvil"], deployment)
            channel = Account.from_key(anvil_key(1)).address
            key = anvil_key(2)
            wallet = Account.from_key(key).address
            chain.add_channel(channel, b"2+" + json.dumps({"name": "Bench"}).encode())
            chain.subscribe(channel, wallet)
            register_phone(
                urls["api"], deployment.chain_id, key, wallet, "ios", "be" * 32
            )

            latencies = [_one(chain, urls, channel, wallet, n) for n in range(samples)]
        finally:
            stack.stop()

    ordered = sorted(latencies)
    return {
        "samples": samples,
        "p50_s": statistics.median(ordered),
        "p95_s": ordered[max(0, round(0.95 * len(ordered)) - 1)],
        "max_s": ordered[-1],
    }


def _one(chain, urls: dict[str, str], channel: str, wallet: str, n: int) -> float:
    marker = f"latency probe {n}"
    identity = b"2+" + json.dumps(payload(3, marker, "ping")).encode()
    chain.send_notification(channel, wallet, identity)
    mined = time.monotonic()

    deadline = mined + 30
    while time.monotonic() < deadline:
        received = requests.get(
            f"{urls['apns_control']}/_fake/received", timeout=5
        ).json()
        if any(marker in (p.get("title") or "") for p in received):
            return time.monotonic() - mined
        time.sleep(0.02)
    raise TimeoutError(f"push for {marker!r} did not arrive within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=15)
    result = measure(parser.parse_args().samples)
    print(
        f"end-to-end latency over {result['samples']} notifications: "
        f"p50 {result['p50_s']:.2f} s, p95 {result['p95_s']:.2f} s, "
        f"max {result['max_s']:.2f} s (goal p50 ≤ 1.5 s)"
    )
    record("latency", **result)


if __name__ == "__main__":
    main()
