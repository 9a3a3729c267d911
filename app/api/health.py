"""Liveness, readiness and the Prometheus scrape of the API.

These views open no database connection before they run (see
``app._manage_connections``): they must answer, and say what is down,
while the database is down.
"""

from __future__ import annotations

from flask import Response, current_app, request
from flask_smorest import Blueprint

from app.metrics_server import render
from app.readiness import check_readiness

blp = Blueprint("health", __name__, description="Liveness, readiness, metrics")


@blp.route("/healthz")
@blp.response(200)
def healthz() -> dict:
    """The process is up and serving requests."""
    return {"status": "ok"}


@blp.route("/readyz")
def readyz() -> tuple[dict, int]:
    """Database, Redis and poller lag; 503 when any is not right.

    `?scope=api` leaves out the poller's lag, for a load balancer that
    should keep API hosts in service while a poller catches up.
    """
    with_chains = request.args.get("scope") != "api"
    result = check_readiness(current_app.config["SETTINGS"], with_chains=with_chains)
    return result.as_json(), 200 if result.ready else 503


@blp.route("/metrics")
def metrics() -> Response:
    """Prometheus text format; all gunicorn workers in multiprocess mode."""
    body, content_type = render()
    return Response(body, content_type=content_type)
