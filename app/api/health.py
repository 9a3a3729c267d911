"""Liveness and readiness."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/healthz")
@blp.response(200)
def healthz() -> dict:
    """The process is up and serving requests."""
    return {"status": "ok"}
