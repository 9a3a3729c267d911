"""Settings from the environment (and an optional ``.env``), read in one place.

Every key has one reader in this package with its type and default: the
chains in ``chains``, the Token API's keys in ``api``, dispatch's in
``dispatch``, all through the typed readers of ``readers``. A malformed value
fails start-up with the key's name; secrets have no defaults. With nothing
set, the server runs on the embedded defaults: a SQLite file and a Valkey
socket under ``var/``, and the local anvil chain described by
``var/chains.json`` (written when the development contracts are deployed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from app.config.api import ApiConfig, load_api_config
from app.config.chains import ChainConfig, parse_chains
from app.config.dispatch import DispatchConfig, PushApp, read_dispatch
from app.config.readers import ConfigError, _choice, _float, _int

__all__ = [
    "ROOT",
    "VAR",
    "ApiConfig",
    "ChainConfig",
    "ConfigError",
    "DispatchConfig",
    "PushApp",
    "Settings",
    "load_settings",
    "parse_chains",
    "read_dispatch",
]

ROOT = Path(__file__).resolve().parent.parent.parent
# Local state (SQLite file, sockets, logs); tests point it elsewhere.
VAR = Path(os.environ.get("EPNS_VAR_DIR") or ROOT / "var").resolve()


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = f"sqlite:///{VAR / 'epns.sqlite3'}"
    redis_url: str = f"unix://{VAR / 'run' / 'valkey.sock'}"
    chains_file: Path = VAR / "chains.json"
    chains_json: str | None = None
    # Operations: metrics exposure of workers and poller, readiness, dashboard.
    metrics_port: int | None = None
    metrics_bind: str = "127.0.0.1"
    ready_max_lag_blocks: int = 100
    dashboard_username: str | None = None
    dashboard_password: str | None = field(default=None, repr=False)
    api: ApiConfig = field(default_factory=ApiConfig)
    raw: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def chains(self) -> list[ChainConfig]:
        """The configured chains, from ``CHAINS`` or else ``CHAINS_FILE``."""
        if self.chains_json is not None:
            return parse_chains(self.chains_json, "CHAINS")
        if not self.chains_file.exists():
            raise ConfigError(
                f"CHAINS_FILE: {self.chains_file} does not exist "
                "(set CHAINS or deploy the local contracts first)"
            )
        return parse_chains(self.chains_file.read_text(), "CHAINS_FILE")

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.raw.get(key, default)

    def number(self, key: str, default: float) -> float:
        """A positive number from the environment (tuning keys of a part)."""
        return _float(self.raw, key, default)

    def dispatch(self) -> DispatchConfig:
        """Dispatch settings: push credentials per app, endpoints, bounds."""
        return read_dispatch(self.raw)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: ``.env`` under os.environ)."""
    if environ is None:
        env_file = ROOT / ".env"
        values = dotenv_values(env_file) if env_file.exists() else {}
        environ = {**{k: v for k, v in values.items() if v is not None}, **os.environ}

    defaults = Settings()
    return Settings(
        env=_choice(
            environ, "APP_ENV", defaults.env, ("development", "production", "test")
        ),
        database_url=environ.get("DATABASE_URL") or defaults.database_url,
        redis_url=environ.get("REDIS_URL") or defaults.redis_url,
        chains_file=Path(environ.get("CHAINS_FILE") or defaults.chains_file),
        chains_json=environ.get("CHAINS") or None,
        metrics_port=_int(environ, "METRICS_PORT", None, minimum=1),
        metrics_bind=environ.get("METRICS_BIND") or defaults.metrics_bind,
        ready_max_lag_blocks=_int(
            environ, "READY_MAX_LAG_BLOCKS", defaults.ready_max_lag_blocks, minimum=0
        ),
        dashboard_username=environ.get("RQ_DASHBOARD_USERNAME") or None,
        dashboard_password=environ.get("RQ_DASHBOARD_PASSWORD") or None,
        api=load_api_config(environ),
        raw=dict(environ),
    )
