"""Every documented answer of FCM and APNs becomes its action."""

from __future__ import annotations

import pytest

from app.jobs.dispatch import dispatch_notification
from app.jobs.outcomes import Kind, classify_apns, classify_fcm
from app.models import Delivery, DeviceToken, RemovedToken
from tests.dispatch import helpers as h

TOKEN = "d" * 64


def one_device(platform: str):
    h.make_channel()
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), TOKEN, platform)
    return h.notify(h.direct("1"))


def outcome():
    delivery = Delivery.get()
    return delivery.status, delivery.last_error, delivery.attempts


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("UNREGISTERED", "UNREGISTERED"),
        ("INVALID_TOKEN", "INVALID_ARGUMENT token"),
        ("SENDER_ID_MISMATCH", "SENDER_ID_MISMATCH"),
    ],
)
def test_fcm_dead_token_answers_delete_it(worker, fakes, kind, reason):
    """D2 and its kind: only answers that prove the token dead remove it."""
    n = one_device("android")
    fakes.fcm.script.add(TOKEN, [{"kind": kind}])
    result = dispatch_notification(n.id)

    assert result["removed"] == 1
    assert not DeviceToken.select().where(DeviceToken.token == TOKEN).exists()
    removed = RemovedToken.get()
    assert (removed.token_suffix, removed.reason) == (TOKEN[-16:], reason)
    assert removed.notification_id == n.id and removed.removed_at
    assert outcome()[0] == "dead"


@pytest.mark.parametrize(
    "kind", ["INVALID_PAYLOAD", "INVALID_ARGUMENT", "THIRD_PARTY_AUTH_ERROR"]
)
def test_fcm_payload_errors_fail_and_keep_the_token(worker, fakes, kind):
    """D3: a field violation on message.data is our fault, not the token's."""
    n = one_device("android")
    fakes.fcm.script.add(TOKEN, [{"kind": kind}])
    assert dispatch_notification(n.id)["failed"] == 1
    assert DeviceToken.select().count() == 1
    assert RemovedToken.select().count() == 0
    status, error, attempts = outcome()
    assert (status, attempts) == ("failed", 1)
    assert error in ("INVALID_ARGUMENT", "THIRD_PARTY_AUTH_ERROR")


@pytest.mark.parametrize(
    "answer",
    [
        {"kind": "QUOTA_EXCEEDED", "retry_after": 0.1},
        {"kind": "UNAVAILABLE"},
        {"kind": "INTERNAL"},
        {"kind": "reset"},
        {"kind": "goaway"},
        {"kind": "slow", "delay": 3},
        {"kind": "silent"},
    ],
)
def test_fcm_transient_answers_are_retried(worker, fakes, answer):
    n = one_device("android")
    fakes.fcm.script.add(TOKEN, [answer])
    assert dispatch_notification(n.id)["sent"] == 1
    assert outcome()[0] == "delivered"
    # The client itself resends a request a GOAWAY says was never processed.
    assert outcome()[2] == (1 if answer["kind"] == "goaway" else 2)
    # A late 200 did reach the device: the resend carries the same collapse key.
    late = answer["kind"] == "slow"
    assert [r["delivered"] for r in fakes.fcm.received] == [late, True]
    assert len({r["collapse_key"] for r in fakes.fcm.received}) == 1
    assert DeviceToken.select().count() == 1


def test_fcm_retry_after_is_honoured(worker, fakes):
    n = one_device("android")
    fakes.fcm.script.add(TOKEN, [{"kind": "QUOTA_EXCEEDED", "retry_after": 1}])
    import time

    start = time.monotonic()
    dispatch_notification(n.id)
    assert time.monotonic() - start >= 1.0
    assert outcome()[0] == "delivered"


def test_fcm_auth_refusal_renews_the_token_once(worker, fakes):
    n = one_device("android")
    before = fakes.fcm.oauth_tokens
    fakes.fcm.script.add(TOKEN, [{"kind": "UNAUTHENTICATED"}])
    assert dispatch_notification(n.id)["sent"] == 1
    assert fakes.fcm.oauth_tokens == before + 1


def test_fcm_auth_refused_twice_fails_and_disables_only_fcm(worker, fakes):
    n = one_device("android")
    h.register(h.wallet(1), "e" * 64, "ios")
    fakes.fcm.script.add(TOKEN, [{"kind": "UNAUTHENTICATED", "times": 2}])
    result = dispatch_notification(n.id)
    assert (result["sent"], result["failed"]) == (1, 1)
    failed = Delivery.get(Delivery.token == TOKEN)
    assert failed.status == "failed" and failed.last_error.startswith("auth")
    assert DeviceToken.select().count() == 2
    # FCM for this app stays disabled; APNs kept working.
    assert [r["token"] for r in fakes.apns.received] == ["e" * 64]
    worker.senders._disabled.clear()


@pytest.mark.parametrize(
    "reason", ["Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"]
)
def test_apns_dead_token_answers_delete_it(worker, fakes, reason):
    n = one_device("ios")
    fakes.apns.script.add(TOKEN, [{"kind": reason}])
    assert dispatch_notification(n.id)["removed"] == 1
    assert RemovedToken.get().reason == reason
    assert DeviceToken.select().count() == 0


@pytest.mark.parametrize(
    "reason", ["PayloadEmpty", "BadCollapseId", "PayloadTooLarge", "BadTopic"]
)
def test_apns_payload_errors_fail_and_keep_the_token(worker, fakes, reason):
    n = one_device("ios")
    fakes.apns.script.add(TOKEN, [{"kind": reason}])
    assert dispatch_notification(n.id)["failed"] == 1
    assert outcome()[:2] == ("failed", reason)
    assert DeviceToken.select().count() == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"kind": "TooManyRequests"},
        {"kind": "InternalServerError"},
        {"kind": "ServiceUnavailable"},
        {"kind": "Shutdown"},
        {"kind": "reset"},
        {"kind": "goaway"},
        {"kind": "silent"},
    ],
)
def test_apns_transient_answers_are_retried(worker, fakes, answer):
    n = one_device("ios")
    fakes.apns.script.add(TOKEN, [answer])
    assert dispatch_notification(n.id)["sent"] == 1
    # The client resends on a new connection a request a GOAWAY left unprocessed.
    assert outcome()[0] == "delivered"
    assert outcome()[2] == (1 if answer["kind"] == "goaway" else 2)
    assert [r["delivered"] for r in fakes.apns.received] == [False, True]


@pytest.mark.parametrize("reason", ["ExpiredProviderToken", "InvalidProviderToken"])
def test_apns_auth_refusal_renews_the_jwt_once(worker, fakes, reason):
    n = one_device("ios")
    fakes.apns.script.add(TOKEN, [{"kind": reason}])
    sender = worker.senders._senders.get(("default", "apns"))
    minted = sender.auth.minted if sender else 0
    assert dispatch_notification(n.id)["sent"] == 1
    sender = worker.senders._senders[("default", "apns")]
    assert sender.auth.minted == max(minted, 1) + 1


def test_jwt_and_oauth_tokens_are_reused_across_jobs(worker, fakes):
    h.make_channel()
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), "a" * 64, "ios")
    h.register(h.wallet(1), "b" * 64, "android")
    oauth = fakes.fcm.oauth_tokens
    for _ in range(3):
        dispatch_notification(h.notify(h.direct("1")).id)
    assert len(fakes.apns.received) == 3 and len(fakes.fcm.received) == 3
    jwts = {r["headers"]["authorization"] for r in fakes.apns.received}
    assert len(jwts) == 1
    assert fakes.fcm.oauth_tokens - oauth <= 1


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"details": [{"errorCode": ["UNREGISTERED"]}]}},
        {"error": {"status": ["NOT_FOUND"]}},
        {"error": {"details": [{"errorCode": {}}], "status": 7}},
        {"error": {"details": "x"}},
        [],
        None,
    ],
)
def test_fcm_answers_of_any_shape_are_classified_without_raising(body):
    """A gateway or proxy answering odd JSON must not fail a whole window."""
    assert classify_fcm(404, body, None).kind is Kind.FAILED
    assert classify_fcm(503, body, None).kind is Kind.RETRY


@pytest.mark.parametrize("reason", [["Unregistered"], {"a": 1}, 410, ""])
def test_apns_reasons_of_any_shape_are_classified_without_raising(reason):
    assert classify_apns(400, reason).kind is Kind.FAILED
    assert classify_apns(410, reason).kind is Kind.DEAD


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "-inf"])
def test_retry_after_that_is_no_number_of_seconds_is_ignored(value):
    assert classify_fcm(503, {}, value).retry_after is None
    assert classify_apns(429, "TooManyRequests", value).retry_after is None
