"""Counting API requests by route template, method and status."""

from __future__ import annotations

from flask import Flask, Response, request
from prometheus_client import Counter

from app.metrics import API_REQUESTS


def count_requests(app: Flask) -> None:
    """Count every answer, errors included (Flask runs this for 500s too).

    Each series' child is kept once found: ``labels`` checks and locks on
    every call, and there are only routes x methods x statuses of them.
    """
    series: dict[tuple[str, str, int], Counter] = {}

    @app.after_request
    def _count(response: Response) -> Response:
        # The rule, not the path: one series per route, not per wallet.
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        labels = (route, request.method, response.status_code)
        child = series.get(labels)
        if child is None:
            child = series[labels] = API_REQUESTS.labels(
                route=route, method=labels[1], status=str(labels[2])
            )
        child.inc()
        return response
