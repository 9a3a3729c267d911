"""The API under gunicorn with deploy/gunicorn.conf.py, as production runs it."""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devstack.services import free_port
from tests.processes import end, spawn, wait_for_http


def _gunicorn(env: dict[str, str], *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = spawn(
        [
            "-m",
            "gunicorn",
            "-c",
            "deploy/gunicorn.conf.py",
            *args,
            "-b",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(proc, f"{base}/openapi.json")
    return proc, base


@pytest.fixture
def api_env(db, database_url, redis_url, tmp_path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CHAINS_FILE": str(tmp_path / "none.json"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }


def _value(text: str, series: str) -> float:
    match = re.search(re.escape(series) + r" ([0-9.e+]+)\n", text)
    assert match, f"{series} not in scrape"
    return float(match.group(1))


@pytest.mark.slow
def test_metrics_count_every_worker(api_env):
    # Recycle workers every few requests, so several processes, some already
    # gone, served the requests being counted.
    proc, base = _gunicorn(
        {**api_env, "GUNICORN_ACCESS_LOG": "/dev/null"},
        "--workers",
        "2",
        "--max-requests",
        "5",
        "--max-requests-jitter",
        "0",
    )
    try:
        with ThreadPoolExecutor(4) as pool:
            codes = list(
                pool.map(
                    lambda _: requests.get(f"{base}/healthz", timeout=30).status_code,
                    range(24),
                )
            )
        text = requests.get(f"{base}/metrics", timeout=30).text
    finally:
        end(proc)

    assert codes == [200] * 24
    series = 'epns_api_requests_total{method="GET",route="/healthz",status="200"}'
    assert _value(text, series) == 24
    metrics_dir = Path(api_env["PROMETHEUS_MULTIPROC_DIR"])
    assert len(list(metrics_dir.glob("counter_*.db"))) >= 3


@pytest.mark.slow
def test_production_logs_are_json_lines_throughout(api_env):
    proc, base = _gunicorn({**api_env, "APP_ENV": "production"}, "--workers", "1")
    try:
        assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
    finally:
        end(proc)

    lines = [json.loads(line) for line in proc.stderr.read().splitlines()]
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers
    assert any("GET /healthz" in line["message"] for line in lines)


@pytest.mark.parametrize("size", [20_000, 2_000_000])
def test_a_chunked_body_over_the_limit_is_too_large(api_env, size):
    """Without Content-Length gunicorn hands the body over as a stream that
    the app cuts at its size limit: the cut must not read as broken JSON."""
    proc, base = _gunicorn(api_env, "--workers", "1")
    body = b'{"message": "' + b"a" * size + b'", "signature": "0x00"}'

    def chunks():
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    try:
        answer = requests.post(
            f"{base}/apis/v1/auth/login",
            data=chunks(),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
    finally:
        end(proc)

    assert answer.status_code == 413
    assert answer.json()["error"] == "body_too_large"
