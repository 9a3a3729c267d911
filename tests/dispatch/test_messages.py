"""Message shapes the app renders, and the byte limits of both services."""

from __future__ import annotations

import json

from app.jobs.dispatch import dispatch_notification
from app.jobs.messages import (
    APNS_LIMIT,
    FCM_LIMIT,
    ChannelInfo,
    FcmBody,
    apns_body,
    apns_payload,
    apns_size,
    fcm_message,
    fcm_size,
    truncate,
)
from app.jobs.payload import Payload
from tests.dispatch import helpers as h

CHANNEL = ChannelInfo(
    "0x" + "c1" * 20, "ENS", icon="data:image/png;base64," + "A" * 9000
)


def test_alert_of_1400_euro_signs_fits_apns(worker, fakes):
    """D4: 4,200 bytes of body are cut on a character boundary under 4,096."""
    h.make_channel()
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), "a" * 64, "ios")
    h.register(h.wallet(1), "b" * 64, "android")
    dispatch_notification(h.notify(h.direct("1", body="€" * 1400)).id)

    apns = fakes.apns.received[0]
    assert apns["status"] == 200
    body = apns["body"]
    assert set(body[:-1]) == {"€"} and body.endswith("…")
    assert len(json.dumps(apns["payload"], ensure_ascii=False).encode()) <= APNS_LIMIT
    fcm = fakes.fcm.received[0]
    assert fcm["status"] == 200 and set(fcm["body"][:-1]) == {"€"}


def test_message_shapes():
    payload = Payload(
        type="1",
        title="Filled",
        body="Your order",
        data={"aimg": "https://img.example/x.png", "acta": "https://cta.example"},
    )
    fcm = fcm_message(payload, CHANNEL, 42)
    assert fcm["notification"] == {"title": "ENS - Filled", "body": "Your order"}
    assert fcm["data"]["type"] == "PUSH_NOTIFICATION_CHANNEL"
    details = json.loads(fcm["data"]["details"])
    assert details["info"] == {
        "icon": None,
        "app": "ENS",
        "image": "https://img.example/x.png",
    }
    assert fcm["android"]["priority"] == "high"
    assert fcm["android"]["collapse_key"] == "epns-42"
    assert fcm["android"]["notification"]["image"] == "https://img.example/x.png"
    assert fcm["apns"]["payload"]["aps"]["mutable-content"] == 1
    assert fcm["apns"]["headers"]["apns-collapse-id"] == "epns-42"
    assert all(isinstance(v, str) for v in fcm["data"].values())

    apns = apns_payload(payload, CHANNEL, 42)
    assert apns["aps"]["alert"] == {"title": "ENS - Filled", "body": "Your order"}
    assert apns["aps"]["sound"] == "default"


def test_long_fields_dropped_before_body_is_cut():
    payload = Payload(type="1", title="t", body="b" * 100, data={"amsg": "m" * 5000})
    apns = apns_payload(payload, CHANNEL, 1)
    assert "amsg" not in apns and apns["aps"]["alert"]["body"] == "b" * 100
    assert apns_size(apns) <= APNS_LIMIT


def test_truncate_keeps_characters_whole():
    assert truncate("abc", 3) == "abc"
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("ab\u0301cdef", 3) == "a…"  # no orphan combining accent
    assert truncate("x👍\u200d🔥yyy", 4) == "x👍…"  # no dangling joiner


def test_huge_link_or_image_is_never_sent_oversize(worker, fakes):
    """D4's kind: every field of the payload counts, not only title and body.

    A call-to-action link or image URL of 5,000 characters cannot fit; it is
    left out and the notification still goes, under both limits."""
    h.make_channel()
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), "a" * 64, "ios")
    h.register(h.wallet(1), "b" * 64, "android")
    long_url = "https://example.com/" + "a" * 5000
    for data in ({"acta": long_url}, {"aimg": long_url}, {"aimg": "€" * 1000}):
        fakes.reset()
        n = h.notify(h.direct("1", body="€" * 1400, **data))
        result = dispatch_notification(n.id)
        assert result["sent"] == 2, (data, result)
        apns = fakes.apns.received[0]
        assert apns["status"] == 200, (data, apns)
        assert apns_size(apns["payload"]) <= APNS_LIMIT
        assert apns["body"].startswith("€")
        assert fakes.fcm.received[0]["status"] == 200


def test_every_message_fits_whatever_its_fields():
    long = "€" * 3000
    channel = ChannelInfo("0x" + "c1" * 20, "N" * 255, icon="https://i/" + "a" * 400)
    payload = Payload(
        type="1",
        title=long,
        body=long,
        data={"acta": long, "aimg": "https://" + long, "asub": long, "amsg": long},
    )
    assert apns_size(apns_payload(payload, channel, 1)) <= APNS_LIMIT
    assert fcm_size(fcm_message(payload, channel, 1)) <= FCM_LIMIT - 320


def test_fcm_body_splices_the_token_into_the_message_serialised_once():
    """The shared bytes plus the token are exactly the whole message's bytes."""
    message = fcm_message(
        Payload(type="1", title='Say "hi" €', body="line\nnext"), CHANNEL, 7
    )
    body = FcmBody.of(message)
    for token in ("a" * 64, 'odd"token\\é'):
        whole = {"message": {**message, "token": token}}
        expected = json.dumps(whole, ensure_ascii=False, separators=(",", ":"))
        assert body.for_token(token) == expected.encode()
        assert json.loads(body.for_token(token))["message"]["token"] == token


def test_apns_body_is_what_apns_size_counts():
    payload = apns_payload(Payload(type="1", title="T €", body="B"), CHANNEL, 7)
    assert json.loads(apns_body(payload)) == payload
    assert len(apns_body(payload)) == apns_size(payload)
