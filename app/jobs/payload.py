"""Turn an identity into the notification payload the channel meant to send.

Payload JSON comes from strangers: every field is checked for type here so
later steps can trust a ``Payload``. Anything malformed becomes a ``Skip``
with a reason, including the published sample that is not valid JSON.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from app.addresses import is_number
from app.jobs.identity import Identity, Skip, Storage
from app.jobs.ipfs import Unavailable

log = logging.getLogger(__name__)

BROADCAST, SECRET, TARGETED, SUBSET = "1", "2", "3", "4"
KNOWN_TYPES = (BROADCAST, SECRET, TARGETED, SUBSET)
MAX_SUBSET = 1000
_TEXT_FIELDS = ("secret", "asub", "amsg", "acta", "aimg", "sectype", "index")


@dataclass(frozen=True)
class Payload:
    type: str
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    recipients: tuple[str, ...] = ()
    etime: int | None = None
    hidden: bool = False
    silent: bool = False

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Payload:
        raw = json.loads(text)
        raw["recipients"] = tuple(raw["recipients"])
        return cls(**raw)

    def expired(self, now: float | None = None) -> bool:
        return self.etime is not None and self.etime < (now or time.time())


def resolve_payload(
    identity: Identity,
    fetch_ipfs: Callable[[str], bytes],
    subgraph_url: str | None = None,
) -> Payload:
    """Load the payload an identity points to, or raise Skip / Unavailable."""
    if identity.storage == Storage.MINIMAL:
        return _minimal(identity)
    if identity.storage == Storage.IPFS:
        content = fetch_ipfs(identity.pointer)
        return parse_payload(content, identity.notification_type)
    if identity.storage == Storage.DIRECT:
        return parse_payload(identity.pointer.encode(), None)
    if identity.storage == Storage.SUBGRAPH:
        if not subgraph_url:
            raise Skip("subgraph payload and no SUBGRAPH_URL configured")
        return parse_payload(_from_subgraph(identity.pointer, subgraph_url), None)
    raise Skip(f"storage {identity.storage.name} is not pushed")


def parse_payload(content: bytes, fallback_type: str | None) -> Payload:
    """Validate payload JSON; ``fallback_type`` comes from a legacy identity."""
    try:
        doc = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise Skip("payload is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise Skip(f"payload is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Skip("payload is not a JSON object")

    notification = _object(doc, "notification")
    data = _object(doc, "data")
    ntype = _text(data.get("type", fallback_type), "data.type")
    if ntype not in KNOWN_TYPES:
        raise Skip(f"unknown notification type {ntype!r}")

    return Payload(
        type=ntype,
        title=_text(notification.get("title", ""), "notification.title"),
        body=_text(notification.get("body", ""), "notification.body"),
        data={k: _text(data[k], f"data.{k}") for k in _TEXT_FIELDS if k in data},
        recipients=_recipients(doc.get("recipients")) if ntype == SUBSET else (),
        etime=_etime(data.get("etime")),
        hidden=_flag(data.get("hidden")),
        silent=_flag(data.get("silent")),
    )


def _minimal(identity: Identity) -> Payload:
    ntype = identity.notification_type or ""
    if ntype not in (BROADCAST, TARGETED):
        raise Skip(f"minimal identity with unsupported type {ntype!r}")
    return Payload(type=ntype, title=identity.title, body=identity.body)


def _object(doc: dict, key: str) -> dict:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise Skip(f"payload field {key!r} missing or not an object")
    return value


def _text(value: object, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Skip(f"payload field {where} is not text")
    return str(value)


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _etime(value: object) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        return int(float(str(value)))
    except (ValueError, OverflowError):  # "nan", "inf", "1e400"
        raise Skip(f"data.etime is not a timestamp: {str(value)[:30]!r}") from None


def _recipients(value: object) -> tuple[str, ...]:
    """Both published forms: a ``{"eip155:0x…": null}`` map or a CSV string."""
    if isinstance(value, dict):
        items = list(value)
    elif isinstance(value, str):
        items = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise Skip("subset notification without recipients")
    if len(items) > MAX_SUBSET:
        raise Skip(f"subset of {len(items)} recipients, over {MAX_SUBSET}")
    if not all(isinstance(item, str) for item in items):
        raise Skip("subset recipients must be addresses")
    return tuple(item.strip() for item in items)


def _from_subgraph(pointer: str, url_template: str) -> bytes:
    """Read a notification a channel published through its subgraph."""
    graph, sep, counter = pointer.partition("+")
    if not graph.startswith("graph:") or not sep or not is_number(counter.strip()):
        raise Skip(f"subgraph pointer not 'graph:<id>+<n>': {pointer[:60]!r}")
    url = url_template.format(id=graph[len("graph:") :])
    query = (
        '{epnsPushNotifications(where:{notificationID:"%s"}){notification}}'
        % counter.strip()
    )
    try:
        response = httpx.post(url, json={"query": query}, timeout=10)
        response.raise_for_status()
        rows = response.json().get("data", {}).get("epnsPushNotifications") or []
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise Unavailable(f"subgraph query failed: {exc}") from None
    if not rows:
        raise Skip(f"subgraph has no notification {counter.strip()}")
    return str(rows[0].get("notification", "")).encode()
