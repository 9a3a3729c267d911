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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from app.addresses import InvalidAddress, is_number, normalize_address

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
class ApiConfig:
    """Sign-in, session and rate-limit settings of the Token API."""

    siwe_domain: str = "localhost:5000"
    siwe_origins: tuple[str, ...] = ("http://localhost:5000",)
    siwe_chain_ids: tuple[int, ...] = (1, 11155111, 31337)
    nonce_ttl: int = 300
    message_max_age: int = 600
    clock_skew: int = 60
    session_ttl: int = 3600
    legacy_register: bool = False
    rate_limits_enabled: bool = True
    signin_limit_ip: str = "30/minute"
    signin_limit_wallet: str = "10/minute"
    write_limit_ip: str = "300/minute"
    write_limit_wallet: str = "120/minute"
    eip1271_rpc_urls: Mapping[int, str] = field(default_factory=dict)
    rpc_timeout: float = 5.0


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


# Dispatch ---------------------------------------------------------------

FCM_URL = "https://fcm.googleapis.com"
APNS_HOST = "api.push.apple.com"
IPFS_GATEWAYS = ("https://ipfs.io", "https://dweb.link")


@dataclass(frozen=True)
class PushApp:
    """Credentials of one mobile app; each platform may be left unconfigured."""

    app_id: str
    fcm_credentials_file: str | None = None
    apns_key_file: str | None = None
    apns_key_id: str | None = None
    apns_team_id: str | None = None
    apns_topic: str | None = None

    @property
    def has_apns(self) -> bool:
        return bool(self.apns_key_file and self.apns_key_id and self.apns_team_id)


@dataclass(frozen=True)
class DispatchConfig:
    apps: dict[str, PushApp]
    fcm_url: str = FCM_URL
    apns_host: str = APNS_HOST
    apns_port: int = 443
    apns_ca_file: str | None = None
    ipfs_gateways: tuple[str, ...] = IPFS_GATEWAYS
    ipfs_timeout: float = 5.0
    ipfs_max_bytes: int = 65536
    subgraph_url: str | None = None
    concurrency: int = 500
    batch_size: int = 5000
    max_attempts: int = 5
    send_timeout: float = 10.0
    retry_base: float = 1.0
    retry_cap: float = 60.0


_APP_KEYS = {
    "fcm_credentials_file": "FCM_CREDENTIALS_FILE",
    "apns_key_file": "APNS_KEY_FILE",
    "apns_key_id": "APNS_KEY_ID",
    "apns_team_id": "APNS_TEAM_ID",
    "apns_topic": "APNS_TOPIC",
}


def read_dispatch(environ: Mapping[str, str]) -> DispatchConfig:
    """Read the dispatch keys; a malformed one fails naming the key.

    The flat keys (``FCM_CREDENTIALS_FILE``, ``APNS_KEY_FILE``, ...) configure
    the app id ``default``; ``PUSH_APPS`` (JSON: app id to an object with the
    same keys in lower case) adds more apps served by the same server.
    """
    apps = {"default": PushApp("default", **_flat_app(environ))}
    apps.update(_push_apps(environ.get("PUSH_APPS")))
    return DispatchConfig(
        apps=apps,
        fcm_url=(environ.get("FCM_URL") or FCM_URL).rstrip("/"),
        apns_host=environ.get("APNS_HOST") or APNS_HOST,
        apns_port=_int(environ, "APNS_PORT", 443, 1),
        apns_ca_file=environ.get("APNS_CA_FILE") or None,
        ipfs_gateways=_list(environ, "IPFS_GATEWAYS", IPFS_GATEWAYS),
        ipfs_timeout=_float(environ, "IPFS_TIMEOUT", 5.0),
        ipfs_max_bytes=_int(environ, "IPFS_MAX_BYTES", 65536, 256),
        subgraph_url=environ.get("SUBGRAPH_URL") or None,
        concurrency=_int(environ, "PUSH_CONCURRENCY", 500, 1),
        batch_size=_int(environ, "PUSH_BATCH_SIZE", 5000, 1),
        max_attempts=_int(environ, "PUSH_MAX_ATTEMPTS", 5, 1),
        send_timeout=_float(environ, "PUSH_SEND_TIMEOUT", 10.0),
        retry_base=_float(environ, "PUSH_RETRY_BASE", 1.0),
        retry_cap=_float(environ, "PUSH_RETRY_CAP", 60.0),
    )


def _flat_app(environ: Mapping[str, str]) -> dict[str, str | None]:
    return {field: environ.get(key) or None for field, key in _APP_KEYS.items()}


def _push_apps(text: str | None) -> dict[str, PushApp]:
    if not text:
        return {}
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"PUSH_APPS: not valid JSON ({exc})") from None
    if not isinstance(items, dict):
        raise ConfigError("PUSH_APPS: expected an object of app id to settings")
    apps = {}
    for app_id, item in items.items():
        if not isinstance(item, dict) or set(item) - set(_APP_KEYS):
            raise ConfigError(
                f"PUSH_APPS[{app_id}]: expected an object with keys "
                + ", ".join(_APP_KEYS)
            )
        if not all(isinstance(v, str) for v in item.values()):
            raise ConfigError(f"PUSH_APPS[{app_id}]: values must be strings")
        apps[app_id] = PushApp(app_id, **item)
    return apps


def _float(environ: Mapping[str, str], key: str, default: float) -> float:
    value = environ.get(key)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{key}: must be positive")
    return number


def _list(environ: Mapping[str, str], key: str, default: tuple[str, ...]):
    value = environ.get(key)
    if value is None:
        return default
    return tuple(part.strip() for part in value.split(",") if part.strip())


def load_api_config(environ: Mapping[str, str]) -> ApiConfig:
    """The Token API's settings; each key fails start-up when malformed."""
    d = ApiConfig()
    return ApiConfig(
        siwe_domain=_authority(environ, "SIWE_DOMAIN", d.siwe_domain),
        siwe_origins=_origins(environ, "SIWE_ALLOWED_ORIGINS", d.siwe_origins),
        siwe_chain_ids=_int_list(environ, "SIWE_CHAIN_IDS", d.siwe_chain_ids),
        nonce_ttl=_positive(environ, "SIWE_NONCE_TTL_SECONDS", d.nonce_ttl),
        message_max_age=_positive(environ, "SIWE_MAX_AGE_SECONDS", d.message_max_age),
        clock_skew=_positive(environ, "SIWE_CLOCK_SKEW_SECONDS", d.clock_skew),
        session_ttl=_positive(environ, "SESSION_TTL_SECONDS", d.session_ttl),
        legacy_register=_flag(
            environ, "LEGACY_UNAUTHENTICATED_REGISTER", d.legacy_register
        ),
        rate_limits_enabled=_flag(
            environ, "RATE_LIMITS_ENABLED", d.rate_limits_enabled
        ),
        signin_limit_ip=_limit(environ, "RATE_LIMIT_SIGNIN_IP", d.signin_limit_ip),
        signin_limit_wallet=_limit(
            environ, "RATE_LIMIT_SIGNIN_WALLET", d.signin_limit_wallet
        ),
        write_limit_ip=_limit(environ, "RATE_LIMIT_WRITE_IP", d.write_limit_ip),
        write_limit_wallet=_limit(
            environ, "RATE_LIMIT_WRITE_WALLET", d.write_limit_wallet
        ),
        eip1271_rpc_urls=_rpc_map(environ, "EIP1271_RPC_URLS"),
        rpc_timeout=float(_positive(environ, "EIP1271_RPC_TIMEOUT_SECONDS", 5)),
    )


def _authority(environ: Mapping[str, str], key: str, default: str) -> str:
    value = (environ.get(key) or default).strip()
    if not value or any(c in value for c in "/?# "):
        raise ConfigError(f"{key}: expected a host[:port] authority, got {value!r}")
    return value


def _origins(
    environ: Mapping[str, str], key: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    raw = environ.get(key)
    if not raw:
        return default
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if not re.match(r"^[a-z][a-z0-9+.-]*://[^/?#\s]+$", origin):
            raise ConfigError(f"{key}: {origin!r} is not a scheme://host[:port]")
    if not origins:
        raise ConfigError(f"{key}: expected a comma-separated list of origins")
    return origins


def _int_list(
    environ: Mapping[str, str], key: str, default: tuple[int, ...]
) -> tuple[int, ...]:
    raw = environ.get(key)
    if not raw:
        return default
    try:
        values = tuple(int(v) for v in raw.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{key}: expected comma-separated integers") from None
    if not values or min(values) < 0:
        raise ConfigError(f"{key}: expected non-negative chain ids")
    return values


def _positive(environ: Mapping[str, str], key: str, default: int) -> int:
    raw = environ.get(key)
    if not raw:
        return default
    if not is_number(raw.strip()) or int(raw) < 1:
        raise ConfigError(f"{key}: expected a positive integer, got {raw!r}")
    return int(raw)


def _flag(environ: Mapping[str, str], key: str, default: bool) -> bool:
    raw = (environ.get(key) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ConfigError(f"{key}: expected true or false, got {raw!r}")
    return raw in ("1", "true", "yes", "on")


def _limit(environ: Mapping[str, str], key: str, default: str) -> str:
    from limits import parse_many

    value = environ.get(key) or default
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{key}: not a rate limit like '10/minute': {value!r}"
        ) from None
    return value


def _rpc_map(environ: Mapping[str, str], key: str) -> dict[int, str]:
    raw = environ.get(key)
    if not raw:
        return {}
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{key}: not valid JSON ({exc})") from None
    if not isinstance(items, dict) or not all(
        is_number(str(k)) and isinstance(v, str) and v for k, v in items.items()
    ):
        raise ConfigError(f"{key}: expected an object of chain id to RPC URL")
    return {int(k): v for k, v in items.items()}
