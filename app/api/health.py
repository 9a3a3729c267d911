"""Liveness, readiness and the Prometheus scrape of the API.

These views open no database connection before they run (see
``app._manage_connections``): they must answer, and say what is down,
while the database is down.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Response, current_app, request
from flask_smorest import Blueprint

from app.metrics_server import render
from app.readiness import check_readiness

blp = Blueprint("health", __name__, description="Liveness, readiness, metrics")


class LivenessSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})


class ReadinessSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ready", "not ready"]})
    database = ma.fields.Dict(required=True)
    redis = ma.fields.Dict(required=True)
    chains = ma.fields.Dict()


@blp.route("/healthz")
@blp.response(200, LivenessSchema)
def healthz() -> dict:
    """The process is up and serving requests."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(
    responses={
        200: {
            "description": "Ready",
            "content": {"application/json": {"schema": ReadinessSchema}},
        },
        503: {
            "description": "Not ready: the body says what is down",
            "content": {"application/json": {"schema": ReadinessSchema}},
        },
    }
)
def readyz() -> tuple[dict, int]:
    """Database, Redis and poller lag; 503 when any is not right.

    `?scope=api` leaves out the poller's lag, for a load balancer that
    should keep API hosts in service while a poller catches up.
    """
    with_chains = request.args.get("scope") != "api"
    result = check_readiness(current_app.config["SETTINGS"], with_chains=with_chains)
    return result.as_json(), 200 if result.ready else 503


@blp.route("/metrics")
@blp.doc(
    responses={
        200: {
            "description": "Prometheus text exposition",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
)
def metrics() -> Response:
    """Prometheus text format; all gunicorn workers in multiprocess mode."""
    body, content_type = render()
    return Response(body, content_type=content_type)
