"""Counting API requests by route template, method and status."""

from __future__ import annotations

from flask import Flask, Response, request

from app.metrics import API_REQUESTS


def count_requests(app: Flask) -> None:
    """Count every answer, errors included (Flask runs this for 500s too)."""

    @app.after_request
    def _count(response: Response) -> Response:
        # The rule, not the path: one series per route, not per wallet.
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        API_REQUESTS.labels(
            route=route, method=request.method, status=str(response.status_code)
        ).inc()
        return response
