"""The Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, request

from app.api.docs_assets import ASSETS_URL
from app.api.docs_assets import blp as docs_assets
from app.config import Settings, load_settings
from app.db import database, init_database

log = logging.getLogger(__name__)

API_DESCRIPTION = """Registers the push tokens of the EPNS mobile app for a wallet.

Sign in with Ethereum first (`POST /apis/v1/auth/nonce`, then
`POST /apis/v1/auth/login`) and send the session as `Authorization: Bearer`.

Every error answer has one shape: `{"code": <HTTP status>, "status":
<reason>, "error": <stable machine code>, "message": <for people>,
"errors": {<field>: [<messages>]}}`. Branch on `error`; each route lists the
codes it can answer. 429 answers carry `Retry-After` (seconds).

"""


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
        OPENAPI_SWAGGER_UI_URL=ASSETS_URL,
        MAX_CONTENT_LENGTH=16 * 1024,
        SETTINGS=settings,
    )
    app.config.update(overrides or {})

    init_database(settings.database_url)
    _manage_connections(app)

    from app.api import register_blueprints
    from app.api.errors import ErrorApi, catalogue, install_error_handlers
    from app.api.limits import init_limiter

    init_limiter(app, settings)
    description = API_DESCRIPTION + catalogue()
    api = ErrorApi(app, spec_kwargs={"info": {"description": description}})
    install_error_handlers(app)
    register_blueprints(api)
    app.register_blueprint(docs_assets)

    from app.api.instrument import count_requests
    from app.cli import register_cli

    count_requests(app)
    register_cli(app)
    if settings.api.legacy_register:
        log.warning(
            "LEGACY_UNAUTHENTICATED_REGISTER is on: anyone can register "
            "a token for any wallet without signing in (unsafe)"
        )
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
