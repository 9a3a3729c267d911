"""Batches: one bad token among many, storms, duplicates, several apps."""

from __future__ import annotations

import json
import uuid

from app.jobs.dispatch import dispatch_notification
from app.models import Delivery, DeviceToken, RemovedToken
from tests.dispatch import helpers as h
from tests.dispatch.conftest import configure_worker


def audience(n: int, platform: str = "ios", prefix: str = "tok") -> list[str]:
    h.make_channel()
    wallets = [h.wallet(i + 1) for i in range(n)]
    h.subscribe(wallets)
    tokens = h.tokens(n, prefix)
    h.register_many([(w, t, platform) for w, t in zip(wallets, tokens, strict=True)])
    return tokens


def test_one_dead_token_among_1000(worker, fakes):
    """D1 and D5: 999 delivered, 1 removed with its reason, 1,000 outcomes."""
    tokens = audience(1000)
    dead = tokens[500]
    fakes.apns.script.add(dead, [{"kind": "Unregistered"}])

    result = dispatch_notification(h.notify(h.direct("1")).id)

    assert (result["sent"], result["removed"], result["failed"]) == (999, 1, 0)
    statuses = [d.status for d in Delivery.select()]
    assert len(statuses) == 1000 and statuses.count("delivered") == 999
    assert Delivery.get(Delivery.token == dead).status == "dead"
    assert RemovedToken.get().reason == "Unregistered"
    assert DeviceToken.select().count() == 999
    assert len({r["token"] for r in fakes.apns.received}) == 1000


def test_503_storm_is_retried_boundedly_then_succeeds(worker, fakes):
    tokens = audience(50, "android")
    fakes.fcm.script.add("*", [{"kind": "UNAVAILABLE", "times": 100}])

    result = dispatch_notification(h.notify(h.direct("1")).id)

    assert result["sent"] == 50
    attempts = [d.attempts for d in Delivery.select()]
    assert max(attempts) <= worker.config.max_attempts
    assert len(fakes.fcm.received) == 150  # 100 refused, then all 50 accepted
    assert {d.status for d in Delivery.select()} == {"delivered"}
    assert DeviceToken.select().count() == len(tokens)


def test_endless_503_gives_up_after_max_attempts(worker, fakes):
    audience(3, "ios")
    fakes.apns.script.add("*", [{"kind": "ServiceUnavailable", "times": 0}])
    result = dispatch_notification(h.notify(h.direct("1")).id)
    assert result["failed"] == 3
    assert len(fakes.apns.received) == 3 * worker.config.max_attempts
    assert all(d.last_error.startswith("retries exhausted") for d in Delivery.select())
    assert DeviceToken.select().count() == 3


def test_503_after_delivery_shows_once(worker, fakes):
    """D6: the resend carries the same collapse key, so one notification shows."""
    (token,) = audience(1, "android")
    fakes.fcm.script.add(token, [{"kind": "UNAVAILABLE", "delivered": True}])
    n = h.notify(h.direct("1"))
    dispatch_notification(n.id)

    shown = [r for r in fakes.fcm.received if r["delivered"]]
    assert len(shown) == 2
    assert {r["collapse_key"] for r in shown} == {f"epns-{n.id}"}
    apns_block = shown[0]["payload"]["apns"]["headers"]
    assert apns_block["apns-collapse-id"] == f"epns-{n.id}"
    assert Delivery.get().attempts == 2


def test_apns_collapse_id_is_set(worker, fakes):
    audience(1, "ios")
    n = h.notify(h.direct("1"))
    dispatch_notification(n.id)
    assert fakes.apns.received[0]["headers"]["apns-collapse-id"] == f"epns-{n.id}"
    assert fakes.apns.received[0]["headers"]["apns-push-type"] == "alert"


def test_every_apns_request_has_its_own_canonical_apns_id(worker, fakes):
    audience(300, "ios")
    dispatch_notification(h.notify(h.direct("1")).id)
    ids = [r["headers"]["apns-id"] for r in fakes.apns.received]
    assert len(ids) == len(set(ids)) == 300
    assert all(str(uuid.UUID(i)) == i for i in ids)


def test_broken_credential_disables_one_app_and_platform(
    db, redis, settings, fakes, tmp_path
):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    apps = {
        "second": {
            "fcm_credentials_file": str(broken),
            "apns_key_file": fakes.env["APNS_KEY_FILE"],
            "apns_key_id": "KEY2",
            "apns_team_id": "TEAM2",
            "apns_topic": "io.other.app",
        }
    }
    state = configure_worker(settings, fakes, PUSH_APPS=json.dumps(apps))
    h.make_channel()
    h.subscribe([h.wallet(1), h.wallet(2)])
    h.register(h.wallet(1), "a" * 64, "android")
    h.register(h.wallet(1), "b" * 64, "ios")
    h.register(h.wallet(2), "c" * 64, "android", app_id="second")
    h.register(h.wallet(2), "d" * 64, "ios", app_id="second")

    result = dispatch_notification(h.notify(h.direct("1")).id)

    assert (result["sent"], result["failed"]) == (3, 1)
    assert [r["token"] for r in fakes.fcm.received] == ["a" * 64]
    topics = {r["token"]: r["headers"]["apns-topic"] for r in fakes.apns.received}
    assert topics == {"b" * 64: "io.epns.dev", "d" * 64: "io.other.app"}
    failed = Delivery.get(Delivery.token == "c" * 64)
    assert failed.last_error.startswith("credential disabled")
    assert DeviceToken.select().count() == 4
    assert ("second", "fcm") in state.senders._disabled


def test_outcomes_of_a_window_are_stored_row_by_row(worker, fakes):
    """Statuses, reasons and attempts per row; last success only where delivered."""
    ok, failed, retried = audience(3, "android")
    fakes.fcm.script.add(failed, [{"kind": "INVALID_PAYLOAD"}])
    fakes.fcm.script.add(retried, [{"kind": "UNAVAILABLE"}])

    dispatch_notification(h.notify(h.direct("1")).id)

    rows = {d.token: d for d in Delivery.select()}
    assert (rows[ok].status, rows[ok].last_error, rows[ok].attempts) == (
        "delivered",
        None,
        1,
    )
    assert (rows[failed].status, rows[failed].last_error) == (
        "failed",
        "INVALID_ARGUMENT",
    )
    assert (rows[retried].status, rows[retried].attempts) == ("delivered", 2)
    seen = {t.token: t.last_success_at for t in DeviceToken.select()}
    assert seen[ok] is not None and seen[retried] is not None
    assert seen[failed] is None
