"""Reorganisations that reach notifications already handed to dispatch."""

from __future__ import annotations

from collections import Counter

from app.jobs import ledger
from app.jobs.dispatch import dispatch_notification, send_batch
from app.models import Notification
from poller.decode import Event
from poller.store import (
    Position,
    advance,
    commit_range,
    prepare_range,
    rollback_to,
)
from tests.dispatch import helpers as h
from tests.dispatch.conftest import configure_worker
from tests.poller_support import CHANNEL, chain_config, run_pass

WALLETS = ["0x" + f"{n:02x}" * 20 for n in (0xA1, 0xA2, 0xA3)]


def test_reorg_after_fan_out_stops_the_batches_not_yet_sent(
    db, redis, settings, fakes, anvil, epns, driver
):
    """Nothing from a block that was reorganised away is pushed once detected,
    even when its notification was already split into push batches."""
    configure_worker(settings, fakes, PUSH_BATCH_SIZE="1")
    driver.add_channel(CHANNEL, b"1+QmMeta")
    for wallet in WALLETS:
        driver.subscribe(CHANNEL, wallet)
    driver.mine(2)
    driver.send_notification(CHANNEL, CHANNEL, h.direct("1"))
    driver.mine(1)
    chain = chain_config(epns, anvil, confirmations=1)
    assert run_pass(chain, redis).outcome == "done"
    tokens = h.tokens(len(WALLETS))
    for wallet, token in zip(WALLETS, tokens, strict=True):
        h.register(wallet, token)
    note = Notification.get()
    assert dispatch_notification(note.id)["outcome"] == "fanned out"
    ranges = ledger.open_ranges(note.id, 1)
    assert len(ranges) == 3

    send_batch(note.id, *ranges[0])  # one batch ran before the reorg
    assert fakes.apns.count == 1

    driver.reorg(2)  # the notification's block and the one above it
    driver.mine(1)
    assert run_pass(chain, redis).outcome == "done"

    for first, last in ranges[1:]:
        send_batch(note.id, first, last)  # queued before the reorg
    assert dispatch_notification(note.id)  # a retried dispatch job
    assert fakes.apns.count == 1
    assert Notification.get_by_id(note.id).status == "cancelled"


def _send_notification(block: int, block_hash: str) -> Event:
    return Event(
        chain_id=h.CHAIN,
        block_number=block,
        block_hash=block_hash,
        tx_hash="0x" + "7e" * 32,
        log_index=0,
        contract="0x" + "ee" * 20,
        name="SendNotification",
        signature="SendNotification(address,address,bytes)",
        args={"channel": h.CHANNEL, "recipient": h.CHANNEL, "identity": h.direct()},
    )


def test_dispatched_transaction_orphaned_then_mined_again_reaches_everyone_once(
    db, redis, settings, fakes
):
    configure_worker(settings, fakes, PUSH_BATCH_SIZE="1")
    h.make_channel()
    h.subscribe(WALLETS)
    tokens = h.tokens(len(WALLETS))
    for wallet, token in zip(WALLETS, tokens, strict=True):
        h.register(wallet, token)
    fork = Position(99, "0x" + "99" * 32, ((99, "0x" + "99" * 32),), stored=True)
    orphan = advance(fork, [(100, "0x" + "aa" * 32)])
    first = prepare_range(h.CHAIN, [_send_notification(100, "0x" + "aa" * 32)])
    commit_range(h.CHAIN, Position(99, None), orphan, first)
    note = Notification.get()
    assert dispatch_notification(note.id)["outcome"] == "fanned out"
    ranges = ledger.open_ranges(note.id, 1)
    send_batch(note.id, *ranges[0])

    rollback_to(h.CHAIN, orphan, fork)
    assert Notification.get_by_id(note.id).status == "cancelled"
    canonical = advance(fork, [(100, "0x" + "bb" * 32), (101, "0x" + "cc" * 32)])
    again = prepare_range(h.CHAIN, [_send_notification(101, "0x" + "cc" * 32)])
    commit_range(h.CHAIN, fork, canonical, again)
    assert Notification.get_by_id(note.id).status == "pending"

    dispatch_notification(note.id)
    for first, last in ledger.open_ranges(note.id, 1):
        send_batch(note.id, first, last)
    assert Counter(r["token"] for r in fakes.apns.received) == Counter(tokens)


def test_reorg_during_a_send_stops_the_windows_not_yet_started(
    db, redis, settings, fakes
):
    import threading
    import time

    from app.db import database

    configure_worker(settings, fakes)
    h.make_channel()
    wallets = [h.wallet(i + 1) for i in range(3000)]
    h.subscribe(wallets)
    tokens = h.tokens(3000)
    h.register_many([(w, t, "ios") for w, t in zip(wallets, tokens, strict=True)])
    # Every answer takes a second: windows one and two are in flight
    # together when the reorg is detected.
    fakes.apns.script.add("*", [{"kind": "slow", "delay": 1, "times": 0}])
    fork = Position(99, "0x" + "99" * 32, ((99, "0x" + "99" * 32),), stored=True)
    orphan = advance(fork, [(100, "0x" + "aa" * 32)])
    event = _send_notification(100, "0x" + "aa" * 32)
    commit_range(h.CHAIN, Position(99, None), orphan, prepare_range(h.CHAIN, [event]))
    note = Notification.get()

    def dispatch():
        with database.connection_context():
            dispatch_notification(note.id)

    sender = threading.Thread(target=dispatch)
    sender.start()
    time.sleep(0.5)
    rollback_to(h.CHAIN, orphan, fork)
    sender.join(60)

    assert len(fakes.apns.received) <= 2000  # the two windows already sent
    assert Notification.get_by_id(note.id).status == "cancelled"
    assert ledger.open_ranges(note.id, 5000) != []  # the rest never left
