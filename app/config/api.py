"""Settings of the Token API: sign-in, sessions, rate limits, EIP-1271."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.addresses import is_number
from app.config.readers import (
    ConfigError,
    _flag,
    _float,
    _json_object,
    _positive,
)


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
    redis_timeout: float = 2.0


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
        redis_timeout=_float(environ, "API_REDIS_TIMEOUT_SECONDS", d.redis_timeout),
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
        if not re.fullmatch(r"[a-z][a-z0-9+.-]*://[^/?#\s]+", origin):
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
    items = _json_object(environ, key, "chain id to RPC URL")
    if not all(
        is_number(str(k)) and isinstance(v, str) and v for k, v in items.items()
    ):
        raise ConfigError(f"{key}: expected an object of chain id to RPC URL")
    return {int(k): v for k, v in items.items()}
