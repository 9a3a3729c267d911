"""Identities, payloads and IPFS: everything malformed is skipped with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.jobs.cid import cid_v0, cid_v1_raw, parse_cid
from app.jobs.dispatch import dispatch_notification
from app.jobs.identity import Skip, Storage, parse_identity
from app.jobs.ipfs import IpfsFetcher, Unavailable
from app.jobs.payload import parse_payload
from app.models import Notification
from tests.dispatch import helpers as h
from tests.dispatch.conftest import configure_worker

SAMPLES = Path(__file__).parent / "samples"


def test_cids_match_ipfs_add():
    # Known outputs of `ipfs add` (CIDv0) and `ipfs add --cid-version 1 --raw-leaves`.
    assert cid_v0(b"hello world\n") == "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    assert (
        cid_v1_raw(b"abc")
        == "bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu"
    )
    assert parse_cid(cid_v0(b"x")).matches(b"x")
    assert not parse_cid(cid_v0(b"x")).matches(b"y")


@pytest.mark.parametrize(
    ("raw", "storage"),
    [
        (b"0+1+Title+Body with + plus", Storage.MINIMAL),
        (b"1+QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", Storage.IPFS),
        (b'2+{"a": 1}', Storage.DIRECT),
        (b"3+graph:abc+7", Storage.SUBGRAPH),
    ],
)
def test_identity_forms(raw, storage):
    identity = parse_identity(raw, block_number=200, cutover_block=100)
    assert identity.storage == storage
    if storage == Storage.MINIMAL:
        assert (identity.title, identity.body) == ("Title", "Body with + plus")


def test_legacy_identity_before_cutover_is_ipfs():
    raw = b"3+QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    identity = parse_identity(raw, block_number=99, cutover_block=100)
    assert identity.storage == Storage.IPFS
    assert identity.notification_type == "3"
    assert parse_identity(raw, 100, 100).storage == Storage.SUBGRAPH


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe",
        b"no-plus",
        b"x+y",
        b"4+chat",
        b"9+z",
        b"0+1+only",
        "\u00b2+QmX".encode(),  # a digit to str.isdigit(), not to int()
        "\u0661+QmX".encode(),  # Arabic-Indic one: not a storage type
    ],
)
def test_malformed_identities_skip(raw):
    with pytest.raises(Skip):
        parse_identity(raw, 1, 0)


def test_published_sample_is_skipped_and_corrected_one_accepted():
    text = (SAMPLES / "message_example.json").read_text()
    with pytest.raises(Skip, match="not valid JSON"):
        parse_payload(text.encode(), None)
    fixed = _corrected(text)
    payload = parse_payload(fixed.encode(), None)
    assert payload.type == "1"
    assert payload.title == "Your trade order [BTC-ETH] is filled!"
    assert payload.data["aimg"].startswith("https://")


def test_sample_through_the_job(worker, fakes):
    h.make_channel()
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), "a" * 64)
    text = (SAMPLES / "message_example.json").read_text().encode()
    bad = h.notify(b"1+" + fakes.ipfs.add(text).encode())
    good = h.notify(b"1+" + fakes.ipfs.add(_corrected(text.decode()).encode()).encode())

    assert dispatch_notification(bad.id)["outcome"] == "skipped"
    assert "not valid JSON" in Notification.get_by_id(bad.id).reason
    assert dispatch_notification(good.id)["sent"] == 1


def _corrected(text: str) -> str:
    """The sample with the comma after its ``secret`` line restored."""
    return text.replace('Chars)"\n    "asub"', 'Chars)",\n    "asub"', 1)


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ([], "not a JSON object"),
        ({"data": {"type": "1"}}, "notification"),
        ({"notification": {}, "data": {"type": "7"}}, "unknown notification type"),
        ({"notification": {"title": {}}, "data": {"type": "1"}}, "not text"),
        ({"notification": {}, "data": {"type": "4"}}, "without recipients"),
        (
            {
                "notification": {},
                "data": {"type": "4"},
                "recipients": ",".join(["0x1"] * 1001),
            },
            "over 1000",
        ),
        ({"notification": {}, "data": {"type": "1", "etime": "inf"}}, "etime"),
        ({"notification": {}, "data": {"type": "1", "etime": "1e400"}}, "etime"),
        ({"notification": {}, "data": {"type": "1", "etime": 1e400}}, "etime"),
        ({"notification": {}, "data": {"type": "1", "etime": "-inf"}}, "etime"),
    ],
)
def test_malformed_payloads_skip(doc, why):
    with pytest.raises(Skip, match=why):
        parse_payload(json.dumps(doc).encode(), None)


def test_odd_numbers_in_an_identity_are_refused_through_the_job(worker):
    """Each is stored as skipped with its reason, never a job that fails."""
    h.make_channel()
    raws = [
        "\u00b2+QmX".encode(),
        h.direct("1", etime="1e400"),
        b"3+graph:abc+\xc2\xb2",
    ]
    for raw in raws:
        n = h.notify(raw)
        assert dispatch_notification(n.id)["outcome"] == "skipped", raw
        assert Notification.get_by_id(n.id).reason


def test_subgraph_skipped_without_url(worker):
    h.make_channel()
    n = h.notify(b"3+graph:abc+1")
    assert dispatch_notification(n.id)["outcome"] == "skipped"
    assert "SUBGRAPH_URL" in Notification.get_by_id(n.id).reason


def test_ipfs_content_checked_cached_and_bounded(fakes):
    gateway = fakes.env["IPFS_GATEWAYS"]
    fetcher = IpfsFetcher((gateway,), timeout=2, max_bytes=4096)
    cid = fakes.ipfs.add(b'{"x": 1}')
    assert fetcher.fetch(cid) == b'{"x": 1}'
    assert fetcher.fetch(cid) == b'{"x": 1}'
    assert fakes.ipfs.count == 1  # second read came from the cache

    forged = fakes.ipfs.add(b"original")
    fakes.ipfs.script.add(forged, [{"kind": "wrong"}])
    with pytest.raises(Skip, match="does not match"):
        fetcher.fetch(forged)

    huge = fakes.ipfs.add(b"small")
    fakes.ipfs.script.add(huge, [{"kind": "huge"}])
    with pytest.raises(Skip, match="over 4096 bytes"):
        fetcher.fetch(huge)

    down = fakes.ipfs.add(b"later")
    fakes.ipfs.script.add(down, [{"kind": "error"}])
    with pytest.raises(Unavailable):
        fetcher.fetch(down)
    assert fetcher.fetch(down) == b"later"


def test_ipfs_second_gateway_used_when_first_lies(fakes):
    gateway = fakes.env["IPFS_GATEWAYS"]
    fetcher = IpfsFetcher((gateway, gateway), timeout=2)
    cid = fakes.ipfs.add(b"truth")
    fakes.ipfs.script.add(cid, [{"kind": "wrong"}])
    assert fetcher.fetch(cid) == b"truth"


def test_unavailable_ipfs_is_skipped_when_no_retry_left(worker, fakes):
    h.make_channel()
    cid = fakes.ipfs.add(b'{"notification":{},"data":{"type":"1"}}')
    fakes.ipfs.script.add(cid, [{"kind": "error", "times": 0}])
    n = h.notify(b"1+" + cid.encode())
    assert dispatch_notification(n.id)["outcome"] == "skipped"
    assert "unavailable" in Notification.get_by_id(n.id).reason


def test_legacy_identity_uses_the_chain_cutover(db, redis, settings, fakes):
    """Before the chain's cut-over block, ``3+<CID>`` is IPFS, not a subgraph."""
    chains = [
        {
            "chain_id": h.CHAIN,
            "name": "local",
            "rpc_urls": ["http://127.0.0.1:1"],
            "comm_address": "0x" + "ee" * 20,
            "identity_cutover_block": 1000,
        }
    ]
    configure_worker(settings, fakes, CHAINS=json.dumps(chains))
    h.make_channel()
    h.subscribe([h.wallet(1)])
    h.register(h.wallet(1), "a" * 64)
    doc = {"notification": {"title": "Old", "body": "style"}, "data": {"type": "1"}}
    cid = fakes.ipfs.add(json.dumps(doc).encode())

    old = h.notify(f"1+{cid}".encode(), block=999)
    assert dispatch_notification(old.id)["sent"] == 1
    new = h.notify(f"3+{cid}".encode(), block=1000)
    assert dispatch_notification(new.id)["outcome"] == "skipped"
    assert fakes.apns.received[0]["title"] == "Test Channel - Old"
