"""The Token API's settings: defaults that run the demo, fail-fast readers."""

from __future__ import annotations

import pytest

from app.api.limits import storage_uri
from app.config import ConfigError, load_settings


def test_defaults_serve_the_local_demo():
    api = load_settings({}).api

    assert api.siwe_domain == "localhost:5000"
    assert api.siwe_origins == ("http://localhost:5000",)
    assert 31337 in api.siwe_chain_ids
    assert api.legacy_register is False
    assert api.rate_limits_enabled is True


def test_values_are_read():
    api = load_settings(
        {
            "SIWE_DOMAIN": "push.example.org",
            "SIWE_ALLOWED_ORIGINS": "https://push.example.org/, https://app.example",
            "SIWE_CHAIN_IDS": "1,137",
            "SESSION_TTL_SECONDS": "900",
            "LEGACY_UNAUTHENTICATED_REGISTER": "yes",
            "EIP1271_RPC_URLS": '{"1": "http://127.0.0.1:8545"}',
        }
    ).api

    assert api.siwe_origins == ("https://push.example.org", "https://app.example")
    assert api.siwe_chain_ids == (1, 137)
    assert api.session_ttl == 900
    assert api.legacy_register is True
    assert api.eip1271_rpc_urls == {1: "http://127.0.0.1:8545"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SIWE_DOMAIN", "https://x.example/path"),
        ("SIWE_ALLOWED_ORIGINS", "not a url"),
        ("SIWE_CHAIN_IDS", "one"),
        ("SESSION_TTL_SECONDS", "-5"),
        ("SIWE_NONCE_TTL_SECONDS", "0"),
        ("LEGACY_UNAUTHENTICATED_REGISTER", "maybe"),
        ("RATE_LIMIT_WRITE_IP", "lots"),
        ("EIP1271_RPC_URLS", "[1]"),
        ("EIP1271_RPC_URLS", "{not json"),
    ],
)
def test_malformed_values_fail_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        load_settings({key: value})


def test_limiter_reaches_redis_over_a_unix_socket_too():
    assert storage_uri("unix:///run/valkey.sock") == "redis+unix:///run/valkey.sock"
    assert storage_uri("redis://127.0.0.1:6379/13") == "redis://127.0.0.1:6379/13"
