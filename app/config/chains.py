"""The chains to poll: a JSON list, one object per chain."""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.addresses import InvalidAddress, normalize_address
from app.config.readers import ConfigError


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
