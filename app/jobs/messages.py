"""Build the FCM v1 messages and APNs payloads the EPNS app renders.

Both services refuse a payload over 4,096 bytes, counted in UTF-8. We
measure the exact bytes we will send and shorten the text (the long
fields first, then the body, then the title) on character boundaries, so a
push is never refused for size nor cut inside a character.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

from app.jobs.payload import Payload

FCM_LIMIT = 4096
APNS_LIMIT = 4096
APP_DATA_TYPE = "PUSH_NOTIFICATION_CHANNEL"
ELLIPSIS = "…"
# Channel icons are often data URIs of many kilobytes: only URLs travel.
MAX_ICON_URL = 512
# The channel name inside ``details`` when even that must shrink to fit.
MAX_APP_NAME = 64


@dataclass(frozen=True)
class ChannelInfo:
    address: str
    name: str
    icon: str | None = None
    url: str | None = None


def collapse_id(notification_id: int) -> str:
    """The same for every attempt of one notification: the service-side guard."""
    return f"epns-{notification_id}"


def display_title(channel: ChannelInfo, payload: Payload) -> str:
    name = channel.name or channel.address
    return f"{name} - {payload.title}" if payload.title else name


def fcm_message(payload: Payload, channel: ChannelInfo, notification_id: int) -> dict:
    """The FCM v1 ``message`` without its ``token``, shortened to fit."""

    def build(title: str, body: str, extra: dict[str, str], media: bool) -> dict:
        return {
            "notification": {"title": title, "body": body},
            "data": {
                "type": APP_DATA_TYPE,
                "details": _details(payload, channel, media),
                "sid": str(notification_id),
                **extra,
            },
            "android": {
                "priority": "high",
                "collapse_key": collapse_id(notification_id),
                "notification": _android_image(payload) if media else {},
            },
            "apns": {
                "headers": {
                    "apns-priority": "10",
                    "apns-collapse-id": collapse_id(notification_id),
                },
                "payload": {
                    "aps": {
                        "mutable-content": 1,
                        "content-available": 1,
                        "sound": "default",
                    }
                },
            },
        }

    # The token (up to ~200 bytes) and the envelope are added later.
    return _fit(build, payload, channel, FCM_LIMIT - 320, fcm_size)


def apns_payload(payload: Payload, channel: ChannelInfo, notification_id: int) -> dict:
    """The APNs JSON body, shortened to fit."""

    def build(title: str, body: str, extra: dict[str, str], media: bool) -> dict:
        return {
            "aps": {
                "alert": {"title": title, "body": body},
                "mutable-content": 1,
                "content-available": 1,
                "sound": "default",
            },
            "type": APP_DATA_TYPE,
            "details": _details(payload, channel, media),
            "sid": str(notification_id),
            **extra,
        }

    return _fit(build, payload, channel, APNS_LIMIT, apns_size)


@dataclass(frozen=True)
class FcmBody:
    """The ``messages:send`` body of one notification, ready for any token.

    Serialising the whole message per device cost more than sending it, and
    only the token differs: the rest is serialised once, the token (the last
    key, as FCM receives it) is spliced in per request.
    """

    head: bytes
    tail: bytes

    @classmethod
    def of(cls, message: dict) -> FcmBody:
        text = _compact({"message": {**message, "token": ""}})
        head, _, tail = text.rpartition('""')
        return cls(head.encode(), tail.encode())

    def for_token(self, token: str) -> bytes:
        return self.head + json.dumps(token, ensure_ascii=False).encode() + self.tail


def apns_body(message: dict) -> bytes:
    """The bytes APNs receives, as ``apns_size`` counts them."""
    return json.dumps(message, ensure_ascii=False).encode()


def fcm_size(message: dict) -> int:
    return len(_compact(message).encode())


def apns_size(message: dict) -> int:
    return len(apns_body(message))


def _compact(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def truncate(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters without breaking one.

    A code point is never split by slicing a str; we also back off so no
    combining mark, variation selector or zero-width joiner is left
    dangling or separated from its base character.
    """
    if len(text) <= max_chars:
        return text
    cut = max(max_chars - len(ELLIPSIS), 0)
    while cut > 0 and _joins_previous(text[cut]):
        cut -= 1
    while cut > 0 and text[cut - 1] == "\u200d":
        cut -= 1
    return text[:cut] + ELLIPSIS


def _joins_previous(char: str) -> bool:
    return (
        unicodedata.combining(char) != 0
        or "\ufe00" <= char <= "\ufe0f"
        or char == "\u200d"
        or unicodedata.category(char) in ("Mn", "Me")
    )


def _fit(build, payload: Payload, channel: ChannelInfo, limit: int, size) -> dict:
    """The message, shortened until its bytes as sent are within ``limit``."""
    title = display_title(channel, payload)
    body = payload.body
    extra = {k: v for k, v in payload.data.items() if k in ("asub", "amsg", "acta")}
    media = True
    message = build(title, body, extra, media)
    if size(message) <= limit:
        return message

    # Drop the long optional fields first: the app shows title and body.
    extra = {k: v for k, v in extra.items() if k == "acta"}
    message = build(title, body, extra, media)
    if size(message) <= limit:
        return message

    # A link or image that leaves no room even for an empty text goes too
    # (the link first); then the channel name inside ``details`` is cut.
    if size(build("", "", extra, media)) > limit:
        extra = {}
    if size(build("", "", extra, media)) > limit:
        media = False

    body = _shrink(lambda b: build(title, b, extra, media), body, limit, size)
    message = build(title, body, extra, media)
    if size(message) <= limit:
        return message
    title = _shrink(lambda t: build(t, "", extra, media), title, limit, size)
    return build(title, "", extra, media)


def _shrink(make, text: str, limit: int, size) -> str:
    """The longest truncation of ``text`` whose message fits (binary search)."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if size(make(truncate(text, middle))) <= limit:
            low = middle
        else:
            high = middle - 1
    return truncate(text, low) if low else ""


def _details(payload: Payload, channel: ChannelInfo, media: bool = True) -> str:
    if media:
        icon = channel.icon if _is_url(channel.icon) else None
        info = {"icon": icon, "app": channel.name, "image": payload.data.get("aimg")}
    else:
        info = {
            "icon": None,
            "app": truncate(channel.name, MAX_APP_NAME),
            "image": None,
        }
    return json.dumps(
        {"subType": payload.type, "info": info},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _android_image(payload: Payload) -> dict:
    image = payload.data.get("aimg")
    return {"image": image} if _is_url(image) else {}


def _is_url(value: str | None) -> bool:
    return (
        bool(value)
        and value.startswith(("https://", "http://"))
        and len(value) <= MAX_ICON_URL
    )
