"""Settings of dispatch: push credentials per app, gateways, retry policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.config.readers import ConfigError, _float, _int, _json_object, _list

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
    apps.update(_push_apps(environ))
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


def _push_apps(environ: Mapping[str, str]) -> dict[str, PushApp]:
    items = _json_object(environ, "PUSH_APPS", "app id to settings")
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
