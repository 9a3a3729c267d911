"""rq-dashboard on the configured Redis, behind HTTP basic auth.

``python -m app.dashboard`` runs it (``--help`` for the options); in
production ``gunicorn 'app.dashboard:create_dashboard()'`` serves the same
app. Credentials come from ``RQ_DASHBOARD_USERNAME`` and
``RQ_DASHBOARD_PASSWORD`` and there is no built-in pair: without them it
refuses to start, unless ``--dev-no-auth`` is given outside production.
Requeuing a failed job from it is safe: dispatch jobs are idempotent.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import sys

import rq_dashboard
from flask import Flask, Response, request
from rq_dashboard.web import setup_rq_connection
from werkzeug.serving import run_simple

from app.config import ConfigError, Settings, load_settings
from app.logs import configure_logging, redact_url

log = logging.getLogger(__name__)

_REALM = 'Basic realm="EPNS jobs", charset="UTF-8"'


def create_dashboard(
    settings: Settings | None = None,
    allow_anonymous: bool = False,
    url_prefix: str = "",
) -> Flask:
    """The dashboard app; raises ConfigError when credentials are missing."""
    settings = settings or load_settings()
    username, password = settings.dashboard_username, settings.dashboard_password
    has_credentials = bool(username and password)
    if not has_credentials and not allow_anonymous:
        raise ConfigError(
            "RQ_DASHBOARD_USERNAME and RQ_DASHBOARD_PASSWORD must both be set "
            "(or pass --dev-no-auth in development)"
        )
    if not has_credentials and settings.is_production:
        raise ConfigError("--dev-no-auth is refused when APP_ENV=production")

    app = Flask(__name__)
    app.config["RQ_DASHBOARD_REDIS_URL"] = settings.redis_url
    if has_credentials:
        _require_basic_auth(app, username, password)
    else:
        log.warning("dashboard without authentication (development only)")
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=url_prefix)
    setup_rq_connection(app)
    return app


def _require_basic_auth(app: Flask, username: str, password: str) -> None:
    expected = (username.encode(), password.encode())

    @app.before_request
    def _check() -> Response | None:
        auth = request.authorization
        given = (
            ((auth.username or "").encode(), (auth.password or "").encode())
            if auth
            else (b"", b"")
        )
        # Compare both in constant time, and both always.
        user_ok = hmac.compare_digest(given[0], expected[0])
        password_ok = hmac.compare_digest(given[1], expected[1])
        if user_ok and password_ok:
            return None
        return Response("authentication required\n", 401, {"WWW-Authenticate": _REALM})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.dashboard", description="RQ dashboard on REDIS_URL."
    )
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9181)
    parser.add_argument("--url-prefix", default="")
    parser.add_argument(
        "--dev-no-auth",
        action="store_true",
        help="run without credentials (refused when APP_ENV=production)",
    )
    args = parser.parse_args(argv)

    settings = load_settings()
    configure_logging(settings.is_production)
    try:
        app = create_dashboard(settings, args.dev_no_auth, args.url_prefix)
    except ConfigError as exc:
        log.error("dashboard not started: %s", exc)
        return 2

    log.info(
        "dashboard on http://%s:%s%s/ for %s",
        args.bind,
        args.port,
        args.url_prefix,
        redact_url(settings.redis_url),
    )
    run_simple(args.bind, args.port, app, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
