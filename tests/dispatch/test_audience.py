"""Channel checks and audience rules, through the dispatch job."""

from __future__ import annotations

import time

import pytest

from app.jobs.dispatch import dispatch_notification
from app.models import Delivery, Notification
from tests.dispatch import helpers as h

OUTSIDER = h.wallet(99)


@pytest.fixture
def three_subscribers(worker):
    h.make_channel()
    h.subscribe([h.wallet(1), h.wallet(2), h.wallet(3)])
    for n in (1, 2, 3, 99):
        h.register(h.wallet(n), f"{n:02d}" * 32)


def received(fakes) -> set[str]:
    return {r["token"] for r in fakes.apns.received if r["delivered"]}


def token(n: int) -> str:
    return f"{n:02d}" * 32


def test_broadcast_goes_to_every_current_subscriber(three_subscribers, fakes):
    dispatch_notification(h.notify(h.direct("1")).id)
    assert received(fakes) == {token(1), token(2), token(3)}


def test_targeted_reaches_the_recipient_only_if_subscribed(three_subscribers, fakes):
    dispatch_notification(h.notify(h.direct("3"), recipient=h.wallet(2)).id)
    assert received(fakes) == {token(2)}

    fakes.reset()
    spam = h.notify(h.direct("3"), recipient=OUTSIDER)
    assert dispatch_notification(spam.id)["sent"] == 0
    assert received(fakes) == set()


@pytest.mark.parametrize("form", ["map", "csv"])
def test_subset_reaches_listed_subscribers(three_subscribers, fakes, form):
    listed = [
        "eip155:" + h.wallet(1).upper().replace("0X", "0x"),
        "eip155:1:" + h.wallet(3),
        OUTSIDER,
        "not-an-address",
    ]
    recipients = dict.fromkeys(listed) if form == "map" else ",".join(listed)
    dispatch_notification(h.notify(h.direct("4", recipients=recipients)).id)
    assert received(fakes) == {token(1), token(3)}


@pytest.mark.parametrize(
    "data",
    [{"silent": "1"}, {"hidden": True}, {"etime": int(time.time()) - 60}],
)
def test_silent_hidden_and_expired_are_not_pushed(three_subscribers, fakes, data):
    n = h.notify(h.direct("1", **data))
    assert dispatch_notification(n.id)["outcome"] == "skipped"
    assert Notification.get_by_id(n.id).reason
    assert fakes.apns.received == []


def test_unexpired_notification_is_pushed(three_subscribers, fakes):
    dispatch_notification(h.notify(h.direct("1", etime=int(time.time()) + 600)).id)
    assert len(received(fakes)) == 3


@pytest.mark.parametrize("state", ["blocked", "deactivated", "destroyed"])
def test_inactive_channel_is_refused(worker, fakes, state):
    h.make_channel(state=state)
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), token(1))
    n = h.notify(h.direct("1"))
    assert dispatch_notification(n.id)["outcome"] == "skipped"
    assert state in Notification.get_by_id(n.id).reason
    assert fakes.apns.received == []


def test_unknown_channel_is_refused(worker, fakes):
    """D8: a channel that never emitted AddChannel."""
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), token(1))
    n = h.notify(h.direct("1"))
    assert dispatch_notification(n.id)["outcome"] == "skipped"
    assert "not a known channel" in Notification.get_by_id(n.id).reason
    assert Delivery.select().count() == 0
    assert fakes.apns.received == []


def test_spoofed_sender_is_refused_and_delegate_accepted(three_subscribers, fakes):
    spoofed = h.notify(h.direct("1"), sender=OUTSIDER)
    assert dispatch_notification(spoofed.id)["outcome"] == "skipped"
    assert (
        "neither the channel nor a delegate"
        in Notification.get_by_id(spoofed.id).reason
    )

    h.add_delegate(h.wallet(50))
    by_delegate = h.notify(h.direct("1"), sender=h.wallet(50))
    assert dispatch_notification(by_delegate.id)["sent"] == 3


def test_signature_path_broadcast_only_reaches_its_signer(three_subscribers, fakes):
    """A type-1 log whose recipient is a user must not become a broadcast."""
    dispatch_notification(h.notify(h.direct("1"), recipient=h.wallet(2)).id)
    assert received(fakes) == {token(2)}


def test_two_logs_in_one_transaction_make_two_pushes(three_subscribers, fakes):
    """D7: same transaction, two log indexes, two users."""
    first = h.notify(
        h.direct("3", title="one"), recipient=h.wallet(1), tx="0x" + "77" * 32
    )
    second = h.notify(
        h.direct("3", title="two"),
        recipient=h.wallet(2),
        tx="0x" + "77" * 32,
        log_index=1,
    )
    dispatch_notification(first.id)
    dispatch_notification(second.id)
    titles = sorted(r["title"] for r in fakes.apns.received)
    assert titles == ["Test Channel - one", "Test Channel - two"]


def test_every_device_of_a_wallet_and_missing_row(three_subscribers, fakes):
    h.register(h.wallet(1), "f" * 64, "android")
    dispatch_notification(h.notify(h.direct("3"), recipient=h.wallet(1)).id)
    assert received(fakes) == {token(1)}
    assert [r["token"] for r in fakes.fcm.received] == ["f" * 64]
    assert dispatch_notification(10**9) == {"outcome": "missing"}


def test_minimal_identity_and_rerun_sends_nothing_twice(three_subscribers, fakes):
    n = h.notify(b"0+3+Short title+Short body", recipient=h.wallet(3))
    dispatch_notification(n.id)
    dispatch_notification(n.id)
    assert [r["body"] for r in fakes.apns.received] == ["Short body"]
