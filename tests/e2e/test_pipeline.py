"""The whole pipeline, as a person runs it: ``make up`` then ``make demo``.

Starts the real launcher (anvil, the embedded Valkey or the configured
Redis, gunicorn, a worker, the poller, the fake FCM/APNs/IPFS servers) on
free ports in a private state directory, runs the demo against it, and
checks what the fake push services received.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import ROOT
from devstack.services import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path, database_url: str, redis_url: str, db):
    env = {**os.environ, "EPNS_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    if os.environ.get("TEST_DATABASE_URL"):
        env["DATABASE_URL"] = database_url
    if os.environ.get("TEST_REDIS_URL"):
        env["REDIS_URL"] = redis_url
    ports = {name: free_port() for name in
             ("api", "anvil", "fcm", "apns", "ipfs", "dashboard")}
    args = [sys.executable, "-m", "devstack"]
    for name, port in ports.items():
        args += [f"--{name}-port", str(port)]
    log = (tmp_path / "devstack.out").open("wb")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)

    status = tmp_path / "devstack.json"
    deadline = time.monotonic() + 90
    while not status.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("launcher did not come up:\n"
                        + (tmp_path / "devstack.out").read_text()[-3000:])
        time.sleep(0.3)

    yield json.loads(status.read_text()), tmp_path, env
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("launcher did not stop on Ctrl-C")


def test_demo_pushes_arrive_at_the_fakes(stack):
    from devstack.demo import PHONES, run

    urls, var, _ = stack
    pushes = run(urls, var / "chains.json", timeout=60)

    got = sorted((p["platform"], p["token"], p["title"], p["body"]) for p in pushes)
    by_token = {token: platform for _, platform, token in PHONES}
    want = []
    for _, _, token in PHONES:
        want.append(("Demo Alerts - Market update", "ETH crossed 4,000", token))
    want.append(("Demo Alerts - Your order filled", "100 ETH at 7:00", PHONES[1][2]))
    for _, _, token in (PHONES[0], PHONES[2], PHONES[3]):
        want.append(("Demo Alerts - Governance vote", "Proposal 12 closes tonight",
                     token))
    expected = sorted((by_token[t], t, title, body) for title, body, t in want)
    assert got == expected

    ios = [p for p in pushes if p["platform"] == "ios"]
    assert all(p["headers"].get("apns-collapse-id") for p in ios)
    android = [p for p in pushes if p["platform"] == "android"]
    assert all(p["payload"]["message"]["android"]["priority"].lower() == "high"
               for p in android)
