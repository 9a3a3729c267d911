"""The whole pipeline, as a person runs it: ``make up`` then ``make demo``.

Starts the real launcher (anvil, the embedded Valkey or the configured
Redis, gunicorn, a worker, the poller, the fake FCM/APNs/IPFS servers) on
free ports in a private state directory, runs the demo against it, and
checks what the fake push services received.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from app.config import ROOT
from devstack.background import SERVICES, hear_ctrl_c, processes_of, start_stack
from devstack.services import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path, database_url: str, redis_url: str, db):
    env = {}
    if os.environ.get("TEST_DATABASE_URL"):
        env["DATABASE_URL"] = database_url
    if os.environ.get("TEST_REDIS_URL"):
        env["REDIS_URL"] = redis_url
    stack = start_stack(tmp_path / "var", env)
    assert len(processes_of(stack.var)) >= 8  # launcher, servers, fakes, stores
    yield stack
    assert stack.stop(), "launcher did not stop on Ctrl-C:\n" + stack.output()[-2000:]
    assert processes_of(stack.var) == [], "processes outlived the launcher"
    assert "Traceback" not in stack.output(), stack.output()[-3000:]


SERVICE_OF = {"ios": "apns", "android": "fcm"}


def test_demo_pushes_arrive_at_the_fakes(stack):
    from devstack.demo import PHONES, run

    pushes = run(stack.urls, stack.var / "chains.json", timeout=60)

    service = {token: SERVICE_OF[platform] for _, platform, token in PHONES}
    bob, carol = PHONES[1][2], PHONES[3][2]
    want = [(t, "Market update", "ETH crossed 4,000") for _, _, t in PHONES]
    want.append((bob, "Your order filled", "100 ETH at 7:00"))
    want += [
        (t, "Governance vote", "Proposal 12 closes tonight")
        for t in (PHONES[0][2], PHONES[2][2], carol)
    ]
    assert sorted(
        (p["platform"], p["token"], p["title"], p["body"]) for p in pushes
    ) == sorted(
        (service[t], t, f"Demo Alerts - {title}", body) for t, title, body in want
    )

    for push in pushes:
        if push["platform"] == "apns":
            assert push["headers"]["apns-collapse-id"]
            assert push["headers"]["apns-push-type"] == "alert"
            assert push["payload"]["aps"]["mutable-content"] == 1
        else:
            assert push["payload"]["android"]["priority"] == "high"
            assert push["payload"]["data"]["type"] == "PUSH_NOTIFICATION_CHANNEL"


def test_readme_sign_in_example_works(stack):
    """The Python example in the README runs as printed against a live API."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\nimport datetime")
    code = readme[start + len("```python\n") : readme.index("```", start + 10)]
    code = code.replace('"http://localhost:5000"', repr(stack.urls["api"]))

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})

    assert printed.getvalue().startswith("201 {")
    assert "'result': 'created'" in printed.getvalue()


def test_the_stores_log_to_var_log_too(stack):
    """The README's promise holds for anvil and Valkey, which write their own
    logs, as for the servers whose output the launcher copies."""
    logs = stack.var / "log"
    anvil_port = urlsplit(stack.urls["anvil"]).port
    assert f"Listening on 127.0.0.1:{anvil_port}" in (logs / "anvil.log").read_text()
    assert "eth_sendTransaction" in (logs / "anvil.log").read_text()
    if "redis" in stack.urls:  # the embedded Valkey, not a configured Redis
        assert "Ready to accept connections" in (logs / "valkey.log").read_text()


def test_ctrl_c_during_start_up_leaves_nothing_running(tmp_path):
    var = tmp_path / "var"
    args = [sys.executable, "-m", "devstack"]
    for name in SERVICES:
        args += [f"--{name}-port", str(free_port())]
    env = {**os.environ, "EPNS_VAR_DIR": str(var)}
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=hear_ctrl_c,
    )

    # Interrupt once the fakes are up, before the servers have answered.
    deadline = time.monotonic() + 60
    while not (var / "fakes" / "apns" / "ca.pem").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)

    assert proc.wait(30) != 0
    assert processes_of(var) == []


def test_sign_in_follows_the_api_port_unless_set(tmp_path):
    """Wallets sign for the domain and URI the nonce answer names, so they
    must be the API's own; an origin the user set is kept. (An empty value
    counts as unset and hides one from a developer's ``.env``.)"""
    chosen = {"SIWE_DOMAIN": "", "SIWE_ALLOWED_ORIGINS": "https://app.example"}
    stack = start_stack(tmp_path / "var", chosen)
    try:
        answer = requests.post(f"{stack.urls['api']}/apis/v1/auth/nonce", timeout=10)
    finally:
        assert stack.stop()

    port = urlsplit(stack.urls["api"]).port
    assert answer.json()["domain"] == f"localhost:{port}"
    assert answer.json()["uri"] == "https://app.example"


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP], ids=["kill", "closed-terminal"]
)
def test_kill_or_closed_terminal_stops_everything(tmp_path, sig):
    """``kill`` and a closed terminal signal the launcher alone (its children
    run in sessions of their own), so it must stop them itself, or the next
    ``make up`` finds every port taken."""
    with _heard(sig):
        stack = start_stack(tmp_path / "var")
    try:
        os.kill(stack.proc.pid, sig)
        stack.proc.wait(30)

        assert processes_of(stack.var) == [], "processes outlived the launcher"
        assert [port for port in _ports(stack.urls) if _answers(port)] == []
        assert not _answers_unix(stack.urls["redis"])
        assert "Traceback" not in stack.output(), stack.output()[-3000:]
    finally:
        _end_leftovers(stack)


@contextlib.contextmanager
def _heard(sig: int) -> Iterator[None]:
    """The launcher inherits an ignored signal (a run under ``nohup``) and
    rightly keeps ignoring it; start it as from a terminal instead."""
    previous = signal.signal(sig, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(sig, previous)


def _ports(urls: dict[str, str]) -> set[int]:
    return {urlsplit(url).port for url in urls.values() if url.startswith("http")}


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _answers_unix(url: str) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        return sock.connect_ex(url.removeprefix("unix://")) == 0


def _end_leftovers(stack) -> None:
    """Without the launcher's clean-up its children outlive the test; end
    them (and only them) by pid so one failure does not hold ports."""
    if stack.proc.poll() is None:
        stack.stop(5)
    for pid in processes_of(stack.var):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_stack_started_with_ctrl_c_ignored_still_stops_on_it(tmp_path):
    """A shell starts background jobs with SIGINT ignored, and children
    inherit that: a test run started with ``&`` must still stop its stacks."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stack = start_stack(tmp_path / "var")
    finally:
        signal.signal(signal.SIGINT, previous)

    stopped = stack.stop(30)

    assert stopped, stack.output()[-2000:]
    assert processes_of(stack.var) == []
