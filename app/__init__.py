"""The Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, request
from flask_smorest import Api

from app.config import Settings, load_settings
from app.db import database, init_database

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, overrides: Mapping[str, object] | None = None
) -> Flask:
    """Build the API app. Tests pass their own settings and Flask overrides."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(
        API_TITLE="EPNS push server",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        MAX_CONTENT_LENGTH=16 * 1024,
        SETTINGS=settings,
    )
    app.config.update(overrides or {})

    init_database(settings.database_url)
    _manage_connections(app)

    api = Api(app)
    from app.api import register_blueprints

    register_blueprints(api)

    from app.api.instrument import count_requests
    from app.cli import register_cli

    count_requests(app)
    register_cli(app)
    return app


def _manage_connections(app: Flask) -> None:
    """One connection per request, returned to the pool at its end."""

    @app.before_request
    def _open() -> None:
        # Health checks open their own, to report the database down.
        if request.blueprint == "health":
            return
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not database.is_closed():
            database.close()
