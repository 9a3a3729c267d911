"""Settings from the environment (and an optional ``.env``), read in one place.

Every key has one reader here with its type and default. A malformed value
fails start-up with the key's name; secrets have no defaults. With nothing
set, the server runs on the embedded defaults: a SQLite file and a Valkey
socket under ``var/``, and the local anvil chain described by
``var/chains.json`` (written when the development contracts are deployed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from app.addresses import InvalidAddress, normalize_address

ROOT = Path(__file__).resolve().parent.parent
# Local state (SQLite file, sockets, logs); tests point it elsewhere.
VAR = Path(os.environ.get("EPNS_VAR_DIR") or ROOT / "var").resolve()


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class ChainConfig:
    chain_id: int
    name: str
    rpc_urls: tuple[str, ...]
    comm_address: str
    core_address: str | None = None
    start_block: int = 0
    confirmations: int = 12
    max_range: int = 2000
    identity_cutover_block: int = 0


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
        raw=dict(environ),
    )


def parse_chains(text: str, key: str) -> list[ChainConfig]:
    """Parse a JSON list of chain objects; errors name the key and the field."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{key}: not valid JSON ({exc})") from None
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{key}: expected a non-empty JSON list of chains")

    chains = [_parse_chain(item, f"{key}[{i}]") for i, item in enumerate(items)]
    ids = [c.chain_id for c in chains]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{key}: chain ids must be unique, got {ids}")
    return chains


def _parse_chain(item: object, where: str) -> ChainConfig:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected an object")

    def need(name: str, kind: type) -> object:
        if name not in item:
            raise ConfigError(f"{where}.{name}: missing")
        value = item[name]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{where}.{name}: expected an integer")
        if kind is int and value < 0:
            raise ConfigError(f"{where}.{name}: must not be negative")
        if kind is not int and not isinstance(value, kind):
            raise ConfigError(f"{where}.{name}: expected {kind.__name__}")
        return value

    def address(name: str, required: bool) -> str | None:
        if item.get(name) is None and not required:
            return None
        try:
            return normalize_address(need(name, str))
        except InvalidAddress as exc:
            raise ConfigError(f"{where}.{name}: {exc}") from None

    urls = need("rpc_urls", list)
    if not urls or not all(isinstance(u, str) and u for u in urls):
        raise ConfigError(f"{where}.rpc_urls: expected a non-empty list of URLs")
    optional_ints = {
        name: need(name, int)
        for name in (
            "start_block",
            "confirmations",
            "max_range",
            "identity_cutover_block",
        )
        if name in item
    }
    if optional_ints.get("max_range", 1) < 1:
        raise ConfigError(f"{where}.max_range: must be at least 1")

    return ChainConfig(
        chain_id=need("chain_id", int),
        name=need("name", str),
        rpc_urls=tuple(urls),
        comm_address=address("comm_address", required=True),
        core_address=address("core_address", required=False),
        **optional_ints,
    )


def _choice(
    environ: Mapping[str, str], key: str, default: str, allowed: tuple[str, ...]
) -> str:
    value = environ.get(key) or default
    if value not in allowed:
        raise ConfigError(f"{key}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


def _int(
    environ: Mapping[str, str], key: str, default: int | None, minimum: int = 0
) -> int | None:
    text = environ.get(key)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{key}: expected an integer, got {text!r}") from None
    if value < minimum:
        raise ConfigError(f"{key}: must be at least {minimum}, got {value}")
    return value
