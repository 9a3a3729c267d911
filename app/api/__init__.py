"""HTTP blueprints. Views parse and answer; services decide."""

from __future__ import annotations

from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    from app.api.auth import blp as auth
    from app.api.health import blp as health
    from app.api.pushtokens import blp as pushtokens

    api.spec.components.security_scheme(
        "bearer",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A session token from POST /apis/v1/auth/login",
        },
    )
    api.register_blueprint(health)
    api.register_blueprint(auth)
    api.register_blueprint(pushtokens)
