"""``flask epns test-push``: one probe through the real senders and fakes."""

from __future__ import annotations

import pytest

from app import create_app
from app.models import DeviceToken, RemovedToken
from tests.dispatch import helpers as h


@pytest.fixture
def cli(worker, settings):
    runner = create_app(settings).test_cli_runner()
    return lambda *args: runner.invoke(args=["epns", *args])


def test_probe_reaches_apns_and_fcm(cli, fakes):
    h.register(h.wallet(1), "a" * 64, "ios")
    h.register(h.wallet(1), "f" * 140, "android")

    for device in DeviceToken.select():
        result = cli("test-push", str(device.id))
        assert result.exit_code == 0, result.output
        assert result.output.rstrip().endswith(": delivered")
        assert device.token not in result.output

    assert [p["title"] for p in fakes.apns.received] == ["EPNS push server - Test push"]
    assert [p["token"] for p in fakes.fcm.received] == ["f" * 140]


def test_a_dead_token_is_removed_with_its_reason(cli, fakes):
    h.register(h.wallet(1), "b" * 64, "ios")
    fakes.apns.script.add("b" * 64, [{"kind": "Unregistered"}])
    device = DeviceToken.get()

    result = cli("test-push", str(device.id))

    assert "dead token, removed" in result.output
    assert DeviceToken.select().count() == 0
    assert RemovedToken.get().reason == "Unregistered"


def test_a_transient_answer_keeps_the_token(cli, fakes):
    h.register(h.wallet(1), "c" * 64, "ios")
    fakes.apns.script.add("c" * 64, [{"kind": "ServiceUnavailable"}])

    result = cli("test-push", str(DeviceToken.get().id))

    assert "retry" in result.output
    assert DeviceToken.select().count() == 1
