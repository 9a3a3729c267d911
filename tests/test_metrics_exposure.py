"""Metrics of workers and poller on a port or through the multiprocess directory."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import requests

from app.config import ROOT
from app.metrics import PUSHES
from app.metrics_server import serve_metrics
from devstack.services import free_port
from tests.processes import end, spawn, wait_for_http

WRITER = (
    "import sys\n"
    "from app.metrics import CHAIN_HEAD, PUSHES\n"
    "PUSHES.labels(platform='ios', outcome='delivered').inc(int(sys.argv[1]))\n"
    "CHAIN_HEAD.labels(chain='1').set(int(sys.argv[2]))\n"
)


def _value(text: str, series: str) -> float:
    match = re.search(re.escape(series) + r" ([0-9.e+]+)\n", text)
    assert match, f"{series} not in scrape"
    return float(match.group(1))


def test_no_port_means_no_listener(settings):
    assert serve_metrics(settings) is None


def test_serve_metrics_on_the_configured_port(settings):
    port = free_port()
    server = serve_metrics(dataclasses.replace(settings, metrics_port=port))
    try:
        PUSHES.labels(platform="android", outcome="dead").inc()
        text = requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()

    assert _value(text, 'epns_pushes_total{outcome="dead",platform="android"}') >= 1
    assert "# TYPE epns_chain_lag_blocks gauge" in text


def test_exporter_adds_up_processes_that_have_exited(tmp_path):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count, head in ((3, 120), (2, 123)):
        subprocess.run(
            [sys.executable, "-c", WRITER, str(count), str(head)],
            cwd=ROOT,
            env={**env, "PATH": "/usr/bin:/bin"},
            check=True,
            timeout=60,
        )
    port = free_port()
    exporter = spawn(["-m", "app.metrics_server", "--port", str(port)], env)
    try:
        wait_for_http(exporter, f"http://127.0.0.1:{port}/")
        text = requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
    finally:
        end(exporter)

    assert _value(text, 'epns_pushes_total{outcome="delivered",platform="ios"}') == 5
    # A cron poller's gauge stays visible after it exits: the last value set.
    assert _value(text, 'epns_chain_head_block{chain="1"}') == 123


def test_exporter_refuses_without_a_directory():
    result = subprocess.run(
        [sys.executable, "-m", "app.metrics_server", "--port", "1"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PROMETHEUS_MULTIPROC_DIR" in result.stderr
