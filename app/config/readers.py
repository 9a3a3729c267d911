"""Typed readers of environment values; each failure names its key."""

from __future__ import annotations

import json
from collections.abc import Mapping

from app.addresses import is_number


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the key."""


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


def _json_object(environ: Mapping[str, str], key: str, what: str) -> dict:
    """A JSON object from the environment; an empty dict when unset."""
    raw = environ.get(key)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{key}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected an object of {what}")
    return value
