from app.jobs.dispatch import dispatch_notification
from app.models import Delivery, Notification
from tests.dispatch import helpers as h


def test_broadcast_reaches_ios_and_android(worker, fakes):
    h.make_channel()
    h.subscribe([h.wallet(1), h.wallet(2)])
    h.register(h.wallet(1), "a" * 64, "ios")
    h.register(h.wallet(2), "b" * 64, "android")
    n = h.notify(h.direct(title="Hi", body="there"))

    result = dispatch_notification(n.id)

    assert result["sent"] == 2, result
    assert {r["token"] for r in fakes.apns.received} == {"a" * 64}
    assert {r["token"] for r in fakes.fcm.received} == {"b" * 64}
    assert fakes.apns.received[0]["title"] == "Test Channel - Hi"
    assert Notification.get_by_id(n.id).status == "dispatched"
    assert {d.status for d in Delivery.select()} == {"delivered"}
