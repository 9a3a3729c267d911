"""Every EPNS event reaches the right table; notifications are keyed per log."""

from __future__ import annotations

from rq import Queue

from app.models import (
    ChainEvent,
    Channel,
    Checkpoint,
    Delegate,
    Notification,
    PublicKey,
    Subscription,
)
from app.queue import notification_job_id
from tests.poller_support import ALICE, BOB, CHANNEL, chain_config, run_pass


def test_channel_lifecycle_and_subscriptions(db, redis, anvil, epns, driver):
    driver.add_channel(CHANNEL, b"1+QmChannelMeta")
    driver.subscribe(CHANNEL, ALICE)
    driver.add_delegate(CHANNEL, BOB)
    driver.verify_channel(CHANNEL)
    driver.deactivate_channel(CHANNEL, 5)
    driver.reactivate_channel(CHANNEL, 6)
    driver.update_channel(CHANNEL, b"1+QmNewMeta", 7)
    driver.register_public_key(ALICE, b"\x04" + b"\x11" * 64)
    driver.remove_delegate(CHANNEL, BOB)
    driver.unsubscribe(CHANNEL, ALICE)

    result = run_pass(chain_config(epns, anvil), redis)

    assert result.outcome == "done", result.message
    channel = Channel.get(Channel.address == CHANNEL)
    assert (channel.state, channel.identity, channel.verified) == (
        "active",
        "1+QmNewMeta",
        True,
    )
    assert channel.channel_type == 2
    subs = {(s.channel, s.subscriber): s.active for s in Subscription.select()}
    assert subs == {
        (CHANNEL, CHANNEL): True,
        ("0x" + "00" * 20, CHANNEL): True,
        (CHANNEL, epns.admin): True,
        (CHANNEL, ALICE): False,
    }
    assert Delegate.select().count() == 0
    assert PublicKey.get().owner == ALICE
    assert Checkpoint.get().block_number == driver.block_number()


def test_each_send_notification_of_a_tx_is_its_own_row(db, redis, anvil, epns, driver):
    driver.add_channel(CHANNEL, b"1+QmMeta")
    tx = driver.send_notifications(
        [(CHANNEL, ALICE, b"3+x"), (CHANNEL, BOB, b"3+y"), (CHANNEL, BOB, b"3+y")]
    )

    run_pass(chain_config(epns, anvil), redis)

    rows = list(Notification.select().order_by(Notification.log_index))
    assert [(r.tx_hash, r.recipient, bytes(r.identity)) for r in rows] == [
        (tx, ALICE, b"3+x"),
        (tx, BOB, b"3+y"),
        (tx, BOB, b"3+y"),
    ]
    assert len({r.log_index for r in rows}) == 3
    assert all(r.status == "pending" for r in rows)
    queued = set(Queue("notifications", connection=redis).job_ids)
    assert queued == {notification_job_id(r.id) for r in rows}


def test_old_forms_and_blocking(db, redis, anvil, epns, driver):
    other = "0x" + "d2" * 20
    driver.add_channel_alpha(other, b"1+QmAlpha")
    driver.update_channel_alpha(other, b"1+QmAlpha2")
    driver.deactivate_channel_alpha(other)
    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.block_channel(CHANNEL)

    run_pass(chain_config(epns, anvil), redis)

    states = {c.address: (c.state, c.identity) for c in Channel.select()}
    assert states[other] == ("deactivated", "1+QmAlpha2")
    assert states[CHANNEL] == ("blocked", "1+QmMeta")
    names = {e.name for e in ChainEvent.select()}
    assert {
        "AddChannel",
        "UpdateChannel",
        "DeactivateChannel",
        "ChannelBlocked",
    } <= names


def test_second_pass_finds_nothing_new(db, redis, anvil, epns, driver):
    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.send_notification(CHANNEL, ALICE, b"3+x")
    chain = chain_config(epns, anvil)
    run_pass(chain, redis)
    driver.mine(3)

    second = run_pass(chain, redis)

    assert second.outcome == "done"
    assert Notification.select().count() == 1
    assert Checkpoint.get().block_number == driver.block_number()


def test_pass_stores_the_head_it_saw_for_readiness(db, redis, anvil, epns, driver):
    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.mine(5)
    head = driver.block_number()

    run_pass(chain_config(epns, anvil, confirmations=3), redis)

    row = Checkpoint.get()
    assert (row.head_block, row.block_number) == (head, head - 3)


def _topic(signature: str) -> bytes:
    from eth_utils import keccak

    return keccak(text=signature)


def _word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def test_bytes32_channel_forms_and_aliases(db, redis, anvil, epns, driver):
    from eth_abi import encode

    driver.emit_core(
        [
            _topic("ChannelCreated(bytes32,uint8,bytes)"),
            _word(CHANNEL),
            (2).to_bytes(32, "big"),
        ],
        encode(["bytes"], [b"1+QmV3"]),
    )
    driver.emit_core(
        [_topic("ChannelVerified(bytes32,bytes32)"), _word(CHANNEL), _word(BOB)]
    )
    driver.emit_core([_topic("ChannelBlocked(bytes32)"), b"\x01" * 32])  # no address
    driver.add_channel_alias("polygon", epns.chain_id, ALICE, CHANNEL)
    driver.add_channel_alias("polygon", 137, BOB, CHANNEL)  # another chain's alias

    result = run_pass(chain_config(epns, anvil), redis)

    assert result.outcome == "done", result.message
    channels = {c.address: c for c in Channel.select()}
    assert (channels[CHANNEL].identity, channels[CHANNEL].verified) == ("1+QmV3", True)
    assert channels[CHANNEL].state == "active"
    assert channels[ALICE].alias_of == CHANNEL
    assert BOB not in channels
    assert ChainEvent.select().where(ChainEvent.name == "ChannelBlocked").count() == 1


def test_decoder_agrees_with_eth_abi_on_every_form():
    from eth_abi import decode, encode

    from poller.decode import decode_log, event_specs

    samples = {
        "address": "0x" + "ab" * 20,
        "uint8": 3,
        "uint256": 2**200 + 7,
        "bytes": b"\x00\xff" * 40,
        "string": "héllo+wörld",
        "bytes32": "0x" + "cd" * 32,
    }
    for spec in event_specs().values():
        topics = [spec.topic0] + [
            "0x" + encode([kind], [_sample(samples, kind)]).hex()
            for _, kind in spec.indexed
        ]
        kinds = [kind for _, kind in spec.data]
        data = encode(kinds, [_sample(samples, k) for k in kinds])
        raw = {
            "topics": topics,
            "data": "0x" + data.hex(),
            "blockNumber": "0x5",
            "blockHash": "0x" + "11" * 32,
            "transactionHash": "0x" + "22" * 32,
            "logIndex": "0x0",
            "address": "0x" + "33" * 20,
        }
        event = decode_log(raw, 1)
        expected = dict(
            zip([n for n, _ in spec.data], decode(kinds, data), strict=True)
        )
        for name, kind in spec.data:
            value = expected[name]
            if kind == "bytes32":
                value = "0x" + value.hex()
            assert event.args[name] == value, (spec.signature, name)
        for name, kind in spec.indexed:
            assert event.args[name] == samples[kind], (spec.signature, name)


def _sample(samples: dict, kind: str) -> object:
    value = samples[kind]
    if kind == "bytes32" and isinstance(value, str):
        return bytes.fromhex(value[2:])
    return value
