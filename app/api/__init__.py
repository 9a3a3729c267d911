"""HTTP blueprints. Views parse and answer; services decide."""

from __future__ import annotations

from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    from app.api.health import blp as health

    api.register_blueprint(health)
