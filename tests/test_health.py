"""/healthz, /readyz and /metrics of the API, and readiness through outages."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from prometheus_client import REGISTRY

from app import create_app
from app.config import ConfigError, load_settings
from app.db import init_database
from app.models import Checkpoint
from migrations import upgrade
from tests.fakes.tcp_proxy import TcpProxy

# The names operators' dashboards and alerts are built on (docs/operations.md).
DOCUMENTED_METRICS = [
    "epns_chain_head_block",
    "epns_chain_checkpoint_block",
    "epns_chain_lag_blocks",
    "epns_poller_range_blocks",
    "epns_rpc_errors_total",
    "epns_reorgs_total",
    "epns_reorg_depth_blocks",
    "epns_logs_processed_total",
    "epns_notifications_total",
    "epns_pushes_total",
    "epns_tokens_removed_total",
    "epns_job_duration_seconds",
    "epns_api_requests_total",
]


@pytest.fixture
def client(db, redis, settings):
    return create_app(settings).test_client()


def _checkpoint(chain_id: int, block: int, head: int | None) -> None:
    Checkpoint.create(
        chain_id=chain_id,
        block_number=block,
        block_hash="0x" + "11" * 32,
        head_block=head,
    )


def test_healthz_answers_without_any_dependency(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_reports_each_part(client):
    _checkpoint(5, block=90, head=100)

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ready"
    assert body["database"] == {"ok": True}
    assert body["redis"] == {"ok": True}
    chain = body["chains"]["by_chain"]["5"]
    assert chain["checkpoint"] == 90
    assert chain["head"] == 100
    assert chain["lag"] == 10
    assert chain["ok"] is True


def test_readyz_fails_when_a_chain_lags_past_the_threshold(db, redis, settings):
    settings = dataclasses.replace(settings, ready_max_lag_blocks=50)
    client = create_app(settings).test_client()
    _checkpoint(1, block=1000, head=1040)
    _checkpoint(2, block=1000, head=1051)

    response = client.get("/readyz")

    assert response.status_code == 503
    chains = response.json["chains"]
    assert chains["ok"] is False
    assert chains["by_chain"]["1"]["ok"] is True
    assert chains["by_chain"]["2"]["lag"] == 51
    assert chains["by_chain"]["2"]["ok"] is False
    # A load balancer asking about the API alone keeps the host in service.
    assert client.get("/readyz?scope=api").status_code == 200


def test_lag_is_counted_from_the_safe_head(db, redis, settings, tmp_path):
    chains = (
        '[{"chain_id": 7, "name": "x", "rpc_urls": ["http://127.0.0.1:9"],'
        ' "comm_address": "0x' + "00" * 20 + '", "confirmations": 12}]'
    )
    settings = dataclasses.replace(settings, chains_json=chains, ready_max_lag_blocks=0)
    client = create_app(settings).test_client()
    _checkpoint(7, block=188, head=200)

    body = client.get("/readyz").json

    assert body["chains"]["by_chain"]["7"]["lag"] == 0
    assert body["status"] == "ready"


def test_metrics_exposes_the_documented_names(client):
    client.get("/healthz")
    client.get("/no-such-route")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.text
    for name in DOCUMENTED_METRICS:
        assert f"# TYPE {name} " in text, name
    assert 'epns_api_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text


def test_every_answer_counts_once_in_its_series(client):
    labels = {"route": "/healthz", "method": "GET", "status": "200"}
    before = REGISTRY.get_sample_value("epns_api_requests_total", labels) or 0

    for _ in range(3):
        client.get("/healthz")
    client.post("/healthz")

    assert REGISTRY.get_sample_value("epns_api_requests_total", labels) == before + 3


def _redis_target(url: str) -> tuple[tuple[str, int] | str, int]:
    parts = urlparse(url)
    if parts.scheme == "unix":
        return parts.path, 0
    return (parts.hostname, parts.port or 6379), int(parts.path.strip("/") or 0)


def test_readiness_fails_while_redis_is_down_and_recovers(db, redis, settings):
    target, db_number = _redis_target(settings.redis_url)
    proxy = TcpProxy(target).start()
    try:
        url = f"redis://127.0.0.1:{proxy.port}/{db_number}"
        client = create_app(dataclasses.replace(settings, redis_url=url)).test_client()
        assert client.get("/readyz").status_code == 200

        proxy.pause()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json["redis"]["ok"] is False
        assert "Connection" in down.json["redis"]["error"]
        assert down.json["database"]["ok"] is True

        proxy.resume()
        assert client.get("/readyz").status_code == 200
    finally:
        proxy.stop()


class _DatabaseOutage:
    """A database the test can take away and give back, on either engine."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        parts = urlparse(database_url)
        self._proxy = None
        if parts.scheme.startswith("mysql"):
            self._proxy = TcpProxy((parts.hostname, parts.port or 3306)).start()
            netloc = f"{parts.username or 'root'}@127.0.0.1:{self._proxy.port}"
            self.url = parts._replace(netloc=netloc).geturl()
        else:
            self._dir = tmp_path / "dbdir"
            self._dir.mkdir()
            self._away = tmp_path / "dbdir-away"
            self.url = f"sqlite:///{self._dir / 'outage.sqlite3'}"
            upgrade(init_database(self.url))

    def cut(self) -> None:
        if self._proxy:
            self._proxy.pause()
        else:
            shutil.move(self._dir, self._away)

    def restore(self) -> None:
        if self._proxy:
            self._proxy.resume()
        else:
            shutil.move(self._away, self._dir)

    def close(self) -> None:
        if self._proxy:
            self._proxy.stop()


def test_readiness_fails_while_the_database_is_down_and_recovers(
    db, redis, settings, database_url, tmp_path
):
    outage = _DatabaseOutage(database_url, tmp_path)
    try:
        app = create_app(dataclasses.replace(settings, database_url=outage.url))
        client = app.test_client()
        assert client.get("/readyz").status_code == 200

        outage.cut()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json["database"]["ok"] is False
        assert down.json["database"]["error"]
        assert down.json["redis"]["ok"] is True
        assert client.get("/healthz").status_code == 200

        outage.restore()
        back = client.get("/readyz")
        assert back.status_code == 200, back.json
    finally:
        outage.close()


@pytest.mark.parametrize(
    "key, value", [("METRICS_PORT", "nine"), ("READY_MAX_LAG_BLOCKS", "-1")]
)
def test_malformed_ops_settings_name_their_key(key, value):
    with pytest.raises(ConfigError, match=key):
        load_settings({key: value})
