"""The yardsticks: bare Flask endpoints that store a token, nothing else.

No sign-in, no validation, no rate limits, no error contract, no schemas.
``/register`` runs the same upsert as the API (``app.tokens.register``);
``/register-sql`` is the least any server could do, one ``INSERT ... ON
DUPLICATE KEY UPDATE`` (``ON CONFLICT`` on SQLite). Same database, same
connection pool as the real app.
"""

from __future__ import annotations

import os

from flask import Flask, request

from app import tokens
from app.db import database, init_database, is_mysql
from app.models import DeviceToken, Platform, utcnow
from app.tokens import DeviceForm

init_database(os.environ["DATABASE_URL"])
app = Flask(__name__)


@app.before_request
def _open() -> None:
    database.connect(reuse_if_open=True)


@app.teardown_request
def _close(exc: BaseException | None) -> None:
    if not database.is_closed():
        database.close()


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@app.post("/register")
def register() -> tuple[dict, int]:
    body = request.get_json()
    form = DeviceForm(body["device_token"], Platform(body["platform"]))
    done = tokens.register(body["wallet"].lower(), form)
    return {"result": done.outcome.value}, 201


@app.post("/register-sql")
def register_sql() -> tuple[dict, int]:
    body = request.get_json()
    query = DeviceToken.insert(
        wallet=body["wallet"].lower(),
        token=body["device_token"],
        platform=body["platform"],
        voip_token=body.get("apn_token"),
    )
    update = {
        DeviceToken.wallet: body["wallet"].lower(),
        DeviceToken.platform: body["platform"],
        DeviceToken.updated_at: utcnow(),
    }
    if is_mysql():
        query = query.on_conflict(update=update)
    else:
        query = query.on_conflict(conflict_target=[DeviceToken.token], update=update)
    query.execute()
    return {"result": "stored"}, 201
