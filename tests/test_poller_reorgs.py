"""Reorganisations below and above the confirmation depth (anvil_reorg)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from app.models import ChainEvent, Channel, Checkpoint, Notification, Subscription
from devstack.chain import Rpc
from tests.poller_support import ALICE, CHANNEL, chain_config, run_pass


def _reorgs() -> float:
    return REGISTRY.get_sample_value("epns_reorgs_total", {"chain": "anvil"}) or 0.0


def _hash(anvil: str, number: int) -> str:
    rpc = Rpc(anvil)
    try:
        return rpc.call("eth_getBlockByNumber", hex(number), False)["hash"]
    finally:
        rpc.close()


def test_reorg_shallower_than_confirmations_changes_nothing(
    db, redis, anvil, epns, driver
):
    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.send_notification(CHANNEL, ALICE, b"3+kept")
    driver.mine(5)
    chain = chain_config(epns, anvil, confirmations=3)
    run_pass(chain, redis)
    checkpoint = Checkpoint.get()
    before = _reorgs()

    driver.reorg(3)
    driver.mine(1)
    result = run_pass(chain, redis)

    assert result.outcome == "done"
    assert _reorgs() == before
    assert Notification.get().status == "pending"
    assert Checkpoint.get().block_number == driver.block_number() - 3
    assert _hash(anvil, checkpoint.block_number) == checkpoint.block_hash


def test_reorg_deeper_than_confirmations_is_undone(db, redis, anvil, epns, driver):
    driver.add_channel(CHANNEL, b"1+QmMeta")
    channel_block = driver.block_number()
    driver.subscribe(CHANNEL, ALICE)
    driver.deactivate_channel(CHANNEL)
    driver.send_notification(CHANNEL, ALICE, b"3+orphaned")
    driver.mine(1)
    chain = chain_config(epns, anvil, confirmations=1)
    run_pass(chain, redis)
    assert Channel.get().state == "deactivated"
    before = _reorgs()

    driver.reorg(4)  # subscribe, deactivate, notification and the empty block
    result = run_pass(chain, redis)

    assert result.outcome == "done", result.message
    assert _reorgs() == before + 1
    note = Notification.get()
    assert (note.status, note.reason) == ("cancelled", "reorg")
    assert Subscription.get_or_none(Subscription.subscriber == ALICE) is None
    assert Channel.get().state == "active"
    assert (
        ChainEvent.select().where(ChainEvent.block_number > channel_block).count() == 0
    )
    checkpoint = Checkpoint.get()
    assert checkpoint.block_number == driver.block_number() - 1
    assert _hash(anvil, checkpoint.block_number) == checkpoint.block_hash


def test_reorg_then_new_events_are_read_on_the_new_branch(
    db, redis, anvil, epns, driver
):
    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.send_notification(CHANNEL, ALICE, b"3+old")
    chain = chain_config(epns, anvil)
    run_pass(chain, redis)

    driver.reorg(1)
    driver.send_notification(CHANNEL, ALICE, b"3+new")
    run_pass(chain, redis)

    by_identity = {bytes(n.identity): n.status for n in Notification.select()}
    assert by_identity == {b"3+old": "cancelled", b"3+new": "pending"}


def test_reorg_between_checkpoint_check_and_range_read(db, redis, anvil, epns, driver):
    from tests.fakes.rpc_proxy import RpcProxy

    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.send_notification(CHANNEL, ALICE, b"3+orphaned")
    driver.mine(2)
    proxy = RpcProxy(anvil).start()
    chain = chain_config(epns, proxy.url)
    try:
        run_pass(chain, redis)
        driver.mine(1)
        before = _reorgs()
        # The checkpoint is still canonical when the pass starts; the chain
        # reorganises just before the range is read, so only the range's
        # link to the checkpoint can notice.
        proxy.faults.before_get_logs = lambda: driver.reorg(4)

        result = run_pass(chain, redis)
    finally:
        proxy.stop()

    assert result.outcome == "done", result.message
    assert _reorgs() == before + 1
    assert Notification.get().status == "cancelled"
    checkpoint = Checkpoint.get()
    assert checkpoint.block_number == driver.block_number()
    assert _hash(anvil, checkpoint.block_number) == checkpoint.block_hash
