"""The whole pipeline, as a person runs it: ``make up`` then ``make demo``.

Starts the real launcher (anvil, the embedded Valkey or the configured
Redis, gunicorn, a worker, the poller, the fake FCM/APNs/IPFS servers) on
free ports in a private state directory, runs the demo against it, and
checks what the fake push services received.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstack.background import start_stack

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path, database_url: str, redis_url: str, db):
    env = {}
    if os.environ.get("TEST_DATABASE_URL"):
        env["DATABASE_URL"] = database_url
    if os.environ.get("TEST_REDIS_URL"):
        env["REDIS_URL"] = redis_url
    stack = start_stack(tmp_path / "var", env)
    yield stack
    assert stack.stop(), "launcher did not stop on Ctrl-C:\n" + stack.output()[-2000:]


def test_demo_pushes_arrive_at_the_fakes(stack):
    from devstack.demo import PHONES, run

    pushes = run(stack.urls, stack.var / "chains.json", timeout=60)

    got = sorted((p["platform"], p["token"], p["title"], p["body"]) for p in pushes)
    platform_of = {token: platform for _, platform, token in PHONES}
    want = [
        ("Demo Alerts - Market update", "ETH crossed 4,000", t) for _, _, t in PHONES
    ]
    want.append(("Demo Alerts - Your order filled", "100 ETH at 7:00", PHONES[1][2]))
    want += [
        ("Demo Alerts - Governance vote", "Proposal 12 closes tonight", t)
        for _, _, t in (PHONES[0], PHONES[2], PHONES[3])
    ]
    assert got == sorted((platform_of[t], t, title, body) for title, body, t in want)

    ios = [p for p in pushes if p["platform"] == "ios"]
    assert all(p["headers"].get("apns-collapse-id") for p in ios)
    android = [p for p in pushes if p["platform"] == "android"]
    assert all(
        p["payload"]["message"]["android"]["priority"].lower() == "high"
        for p in android
    )
