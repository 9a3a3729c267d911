"""rq-dashboard: refuses to start without credentials, serves with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from app.config import ROOT
from app.queue import NOTIFICATIONS, enqueue_notification, notification_job_id
from devstack.services import free_port
from tests.processes import end, spawn, wait_for_http


def _run_refused(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RQ_DASHBOARD")}
    return subprocess.run(
        [sys.executable, "-m", "app.dashboard", "--port", "1", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env",
    [{}, {"RQ_DASHBOARD_USERNAME": "ops"}, {"RQ_DASHBOARD_PASSWORD": "only-this"}],
)
def test_refuses_to_start_without_both_credentials(env):
    result = _run_refused(env)

    assert result.returncode == 2
    assert "RQ_DASHBOARD_USERNAME and RQ_DASHBOARD_PASSWORD" in result.stderr


def test_development_flag_is_refused_in_production():
    result = _run_refused({"APP_ENV": "production"}, "--dev-no-auth")

    assert result.returncode == 2
    assert "refused when APP_ENV=production" in result.stderr


@pytest.fixture
def dashboard(redis_url):
    port = free_port()
    proc = spawn(
        ["-m", "app.dashboard", "--port", str(port)],
        {
            "REDIS_URL": redis_url,
            "RQ_DASHBOARD_USERNAME": "ops",
            "RQ_DASHBOARD_PASSWORD": "s3cret-from-env",
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(proc, base)
        yield base
    finally:
        end(proc)


def test_serves_only_with_the_credentials(dashboard, redis):
    enqueue_notification(redis, 41)

    anonymous = requests.get(dashboard, timeout=10)
    wrong = requests.get(dashboard, auth=("ops", "guess"), timeout=10)
    page = requests.get(dashboard, auth=("ops", "s3cret-from-env"), timeout=10)

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert wrong.status_code == 401
    assert page.status_code == 200

    auth = ("ops", "s3cret-from-env")
    queues = requests.get(f"{dashboard}/0/data/queues.json", auth=auth, timeout=10)
    assert NOTIFICATIONS in [q["name"] for q in queues.json()["queues"]]
    job_url = f"{dashboard}/0/data/job/{notification_job_id(41)}.json"
    job = requests.get(job_url, auth=auth, timeout=10).json()
    assert job["origin"] == NOTIFICATIONS
    assert job["description"] == "dispatch notification 41"
    assert json.loads(job["metadata"])["notification_id"] == 41
