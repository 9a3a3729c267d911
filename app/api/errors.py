"""One JSON error contract for every failure, and its OpenAPI description.

Every error answer has smorest's shape, ``{"code": <HTTP status>, "status":
<reason phrase>, "message": ..., "errors": {<field>: [...]}}``, plus
``"error"``, a stable machine code from ``app.errors.CODES``. Clients branch
on ``error``; ``message`` is for people and may change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import marshmallow as ma
import peewee
import redis.exceptions
from flask import Flask, g
from flask_smorest import Api, Blueprint
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from app.db import is_lock_conflict
from app.errors import CODES, ServiceError

log = logging.getLogger(__name__)

_BY_STATUS = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
_OUTAGES = (
    peewee.OperationalError,
    peewee.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# Redis refusing to serve for now (out of memory, a read-only replica after
# a failover, a failed snapshot, still loading): an outage, not our bug.
_REDIS_REFUSALS = frozenset(
    {"OOM", "READONLY", "MISCONF", "LOADING", "MASTERDOWN", "TRYAGAIN", "BUSY"}
)
ERROR_REF = {"$ref": "#/components/schemas/Error"}
RETRY_AFTER = {
    "description": "Seconds until the limit's window resets",
    "schema": {"type": "integer", "minimum": 1},
}
# Codes any route with a JSON body can answer besides its own.
BODY_CODES = ("invalid_json", "invalid_body", "unknown_field", "body_too_large")
COMMON_CODES = ("rate_limited", "unavailable")


class ErrorSchema(ma.Schema):
    """The body of every error answer."""

    code = ma.fields.Integer(metadata={"description": "HTTP status"})
    status = ma.fields.String(metadata={"description": "HTTP reason phrase"})
    error = ma.fields.String(
        metadata={"description": "Stable machine code", "enum": sorted(CODES)}
    )
    message = ma.fields.String(metadata={"description": "For people"})
    errors = ma.fields.Dict(metadata={"description": "Messages per field"})


class ErrorApi(Api):
    """smorest's Api with the machine code added to its error answers."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        payload, status, headers = super().handle_http_exception(error)
        # werkzeug's own headers (Allow on a 405), but not its HTML type.
        own = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers = {**own, **(headers or {})}
        payload["error"] = _http_code(status, payload.get("errors"))
        if status == 429:
            headers = {**headers, "Retry-After": str(g.get("retry_after", 60))}
        payload.setdefault("message", CODES.get(payload["error"], ("", error.name))[1])
        return payload, status, headers


def catalogue() -> str:
    """The table of every machine code, for the OpenAPI description."""
    rows = [
        f"| `{code}` | {status} | {text} |" for code, (status, text) in CODES.items()
    ]
    return "\n".join(["| error | HTTP | meaning |", "| --- | --- | --- |", *rows])


def install_error_handlers(app: Flask) -> None:
    """Translate service errors and outages into the contract."""
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(peewee.IntegrityError, _conflict)
    for kind in _OUTAGES:
        app.register_error_handler(kind, _outage)
    app.register_error_handler(redis.exceptions.ResponseError, _redis_refusal)


def error_body(code: str, message: str, field: str | None = None) -> dict:
    status = CODES[code][0]
    body: dict[str, Any] = {
        "code": status,
        "status": HTTP_STATUS_CODES.get(status, "Error"),
        "error": code,
        "message": message,
    }
    if field:
        body["errors"] = {field: [message]}
    return body


def documents(
    blp: Blueprint, *codes: str, security: list[dict] | None = None
) -> Callable:
    """Document the error answers of a route, one entry per HTTP status.

    One ``doc`` layer for all of them and the route's ``security``: each
    ``alt_response`` or ``doc`` would wrap the view once more and cost a
    call on every request.
    """
    by_status: dict[int, list[str]] = {}
    for code in (*codes, *COMMON_CODES):
        by_status.setdefault(CODES[code][0], []).append(code)

    responses = {
        str(status): {
            "description": " ".join(f"`{n}`: {CODES[n][1]}" for n in names),
            "content": {"application/json": {"schema": ERROR_REF}},
        }
        for status, names in sorted(by_status.items())
    }
    responses["429"]["headers"] = {"Retry-After": RETRY_AFTER}
    if security is None:
        return blp.doc(responses=responses)
    return blp.doc(responses=responses, security=security)


def _service_error(exc: ServiceError):
    if exc.status >= 500:
        log.warning("answering %s: %s", exc.code, exc.message)
    return error_body(exc.code, exc.message, exc.field), exc.status


def _conflict(exc: peewee.IntegrityError):
    # The services retry the races they expect; one that still collides
    # (two rotations onto one token at once) is the client's to retry.
    log.warning("unique constraint hit by a concurrent write: %s", exc.args[:1])
    return error_body("conflict", CODES["conflict"][1]), 409


def _outage(exc: Exception):
    if is_lock_conflict(exc):
        # Retried already (app.db.retry_lock_conflicts): a race the client
        # may run again, not a database down.
        log.warning("lock conflict after retries: %s", exc.args[:1])
        return error_body("conflict", CODES["conflict"][1]), 409
    log.error("dependency unavailable: %s", type(exc).__name__, exc_info=exc)
    return error_body("unavailable", CODES["unavailable"][1]), 503


def _redis_refusal(exc: redis.exceptions.ResponseError):
    """An error answer of Redis: a refusal to serve now is an outage; any
    other is a command of ours it could not run, answered as our fault."""
    kind = str(exc).split(" ", 1)[0]
    if getattr(exc, "status_code", None) in _REDIS_REFUSALS or kind in _REDIS_REFUSALS:
        return _outage(exc)
    log.error("Redis refused a command: %s", exc, exc_info=exc)
    return error_body("internal_error", CODES["internal_error"][1]), 500


def _http_code(status: int, errors: object) -> str:
    """The machine code for an HTTP error raised by Flask, webargs or limiter."""
    if status == 400:
        return (
            "invalid_json" if _mentions(errors, "Invalid JSON body.") else "bad_request"
        )
    if status == 422:
        return (
            "unknown_field" if _mentions(errors, "Unknown field.") else "invalid_body"
        )
    return _BY_STATUS.get(status, "invalid_body" if status < 500 else "internal_error")


def _mentions(errors: object, text: str) -> bool:
    if isinstance(errors, dict):
        return any(_mentions(v, text) for v in errors.values())
    if isinstance(errors, list):
        return any(_mentions(v, text) for v in errors)
    return errors == text
