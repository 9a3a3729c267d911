"""Exposing the metrics of ``app.metrics``: ``/metrics`` on the API, a port elsewhere.

One process (``flask run``, a worker or poller started with ``METRICS_PORT``)
serves the default registry. When several processes update the same metrics
(gunicorn workers, RQ work horses, a cron poller that exits between passes),
``PROMETHEUS_MULTIPROC_DIR`` names a directory where every process writes its
values and each scrape adds them up. prometheus_client picks its storage when
it is first imported, so the variable must be in the environment before
that: ``deploy/gunicorn.conf.py`` and the systemd units set it.

``python -m app.metrics_server --port N`` serves such a directory on its own,
one exporter per machine for the workers and the poller.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    start_http_server,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from app.config import Settings

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    """The shared directory of multiprocess mode, or None in one-process mode."""
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


def multiprocess_active() -> bool:
    """True when this process writes its values to the shared directory."""
    return values.ValueClass is not values.MutexValue


def collector_registry() -> CollectorRegistry:
    """The registry to serve: this process's, or the whole directory's."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY

    if not multiprocess_active():
        # The variable came too late: this process's own values stay in
        # memory and are missing from every scrape.
        log.warning("%s set after prometheus_client was imported", MULTIPROC_ENV)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))
    return registry


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric, and its content type."""
    return generate_latest(collector_registry()), CONTENT_TYPE_LATEST


def serve_metrics(settings: Settings) -> WSGIServer | None:
    """Expose metrics on ``METRICS_PORT`` from a background thread.

    The poller and worker bootstraps call this once at start. Without a
    port nothing listens: values then reach Prometheus only through the
    multiprocess directory and its exporter, if one is configured.
    """
    if settings.metrics_port is None:
        log.info(
            "metrics: no METRICS_PORT; multiprocess directory %s",
            multiprocess_dir() or "not set, metrics not exposed",
        )
        return None

    server, _ = start_http_server(
        settings.metrics_port, addr=settings.metrics_bind, registry=collector_registry()
    )
    log.info("metrics on http://%s:%s/", settings.metrics_bind, settings.metrics_port)
    return server


def reset_multiprocess_dir(path: Path) -> None:
    """Empty the directory at a server's start, so old processes' files go."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def forget_process(pid: int) -> None:
    """Drop the live-only gauges of a process that exited (gunicorn hook)."""
    path = multiprocess_dir()
    if path is not None:
        mark_process_dead(pid, str(path))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.metrics_server",
        description=f"Serve the metrics written under ${MULTIPROC_ENV}.",
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    path = multiprocess_dir()
    if path is None or not path.is_dir():
        log.error("%s must name an existing directory", MULTIPROC_ENV)
        return 2

    start_http_server(args.port, addr=args.bind, registry=collector_registry())
    log.info("serving %s on http://%s:%s/", path, args.bind, args.port)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
