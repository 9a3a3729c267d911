"""Channel names come from the IPFS meta their identity points to."""

from __future__ import annotations

import json

from app.jobs.dispatch import dispatch_notification
from app.models import Channel
from tests.dispatch import helpers as h


def _channel_with_meta(fakes, meta: object) -> str:
    cid = fakes.ipfs.add(json.dumps(meta).encode())
    h.make_channel(name=None)
    Channel.update(identity=f"1+{cid}").execute()
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), "a" * 64)
    return cid


def _titles(fakes) -> list[str]:
    return [push["title"] for push in fakes.apns.received]


def test_first_dispatch_reads_the_name_and_keeps_it(worker, fakes):
    _channel_with_meta(
        fakes,
        {
            "name": "Demo Alerts",
            "info": "i",
            "url": "u",
            "icon": "https://example.org/i.png",
        },
    )

    dispatch_notification(h.notify(h.direct(title="One")).id)
    dispatch_notification(h.notify(h.direct(title="Two")).id)

    assert _titles(fakes) == ["Demo Alerts - One", "Demo Alerts - Two"]
    channel = Channel.get()
    assert (channel.name, channel.icon) == ("Demo Alerts", "https://example.org/i.png")
    assert fakes.ipfs.count == 1


def test_a_new_identity_is_read_again(worker, fakes):
    _channel_with_meta(fakes, {"name": "Old Name"})
    dispatch_notification(h.notify(h.direct(title="A")).id)

    new_cid = fakes.ipfs.add(json.dumps({"name": "New Name"}).encode())
    Channel.update(identity=f"1+{new_cid}").execute()
    dispatch_notification(h.notify(h.direct(title="B")).id)

    assert _titles(fakes) == ["Old Name - A", "New Name - B"]


def test_unusable_meta_is_not_fetched_again_and_the_address_is_shown(worker, fakes):
    cid = fakes.ipfs.add(b"not json")
    h.make_channel(name=None)
    Channel.update(identity=f"1+{cid}").execute()
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), "a" * 64)

    dispatch_notification(h.notify(h.direct(title="A")).id)
    dispatch_notification(h.notify(h.direct(title="B")).id)

    assert _titles(fakes) == [f"{h.CHANNEL} - A", f"{h.CHANNEL} - B"]
    assert fakes.ipfs.count == 1


def test_a_gateway_outage_leaves_the_meta_to_be_read_later(worker, fakes):
    cid = _channel_with_meta(fakes, {"name": "Later"})
    fakes.ipfs.script.add(cid, [{"kind": "error"}])

    dispatch_notification(h.notify(h.direct(title="A")).id)
    dispatch_notification(h.notify(h.direct(title="B")).id)

    assert _titles(fakes) == [f"{h.CHANNEL} - A", "Later - B"]


def test_over_long_fields_are_cut_to_the_protocol_limits(worker, fakes):
    _channel_with_meta(
        fakes,
        {"name": "N" * 60, "info": "I" * 300, "url": 5, "icon": "javascript:alert(1)"},
    )
    dispatch_notification(h.notify(h.direct()).id)

    channel = Channel.get()
    assert (len(channel.name), len(channel.info)) == (40, 240)
    assert channel.url is None and channel.icon is None
