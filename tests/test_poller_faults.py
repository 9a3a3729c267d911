"""The poller against a misbehaving provider (a proxy in front of anvil)."""

from __future__ import annotations

import time

import pytest

from app.models import Checkpoint, Notification
from devstack.services import free_port
from poller.rpc import RpcClient, RpcGaveUp, RpcPolicy
from tests.fakes.rpc_proxy import RANGE_ERRORS, RESULT_ERRORS, RpcProxy
from tests.poller_support import ALICE, BOB, CHANNEL, FAST, chain_config, run_pass


@pytest.fixture
def proxy(anvil):
    server = RpcProxy(anvil).start()
    yield server
    server.stop()


def _spread(driver, count: int) -> None:
    """One notification per block, ``count`` blocks."""
    driver.add_channel(CHANNEL, b"1+QmMeta")
    for i in range(count):
        driver.send_notification(CHANNEL, ALICE, f"3+n{i}".encode())


def _identities() -> list[bytes]:
    return sorted(bytes(n.identity) for n in Notification.select())


@pytest.mark.parametrize("style", sorted(RANGE_ERRORS))
def test_range_caps_of_each_provider_shrink_and_finish(
    db, redis, epns, driver, proxy, style
):
    _spread(driver, 12)
    proxy.faults.range_limit = 4
    proxy.faults.range_style = style

    result = run_pass(chain_config(epns, proxy.url, max_range=50), redis)

    assert result.outcome == "done", result.message
    assert len(_identities()) == 12
    accepted = [r for r in proxy.log_ranges if r[1] - r[0] + 1 <= 4]
    assert accepted and len(proxy.log_ranges) > len(accepted)


@pytest.mark.parametrize("style", sorted(RESULT_ERRORS))
def test_result_caps_of_each_provider_shrink_and_finish(
    db, redis, epns, driver, proxy, style
):
    driver.add_channel(CHANNEL, b"1+QmMeta")
    for i in range(8):
        driver.send_notifications(
            [(CHANNEL, ALICE, b"3+a%d" % i), (CHANNEL, BOB, b"3+b%d" % i)]
        )
    proxy.faults.result_limit = 5
    proxy.faults.result_style = style

    result = run_pass(chain_config(epns, proxy.url), redis)

    assert result.outcome == "done", result.message
    assert Notification.select().count() == 16


def test_p1_infura_range_limit_text(db, redis, epns, driver, proxy):
    _spread(driver, 5)
    proxy.faults.range_limit = 3  # "range N exceeds limit of 3"

    result = run_pass(chain_config(epns, proxy.url, max_range=1_000_000), redis)

    assert result.outcome == "done", result.message
    assert len(_identities()) == 5


def test_p2_suggestion_equal_to_request_is_bisected(db, redis, epns, driver, proxy):
    _spread(driver, 10)
    proxy.faults.result_limit = 4  # channel creation puts 4 logs in one block
    proxy.faults.result_style = "reth"
    proxy.faults.same_range_suggestion = True

    result = run_pass(chain_config(epns, proxy.url), redis)

    assert result.outcome == "done", result.message
    assert len(_identities()) == 10
    assert len(proxy.log_ranges) < 40  # no loop on the same range


def test_p5_lagging_log_node_never_moves_checkpoint_past_its_head(
    db, redis, epns, driver, proxy
):
    _spread(driver, 3)
    driver.mine(10)
    driver.send_notification(CHANNEL, BOB, b"3+recent")
    head = driver.block_number()
    proxy.faults.lag_blocks = 20
    chain = chain_config(epns, proxy.url)

    behind = run_pass(chain, redis)

    assert behind.outcome == "behind"
    assert (
        Checkpoint.get_or_none() is None or Checkpoint.get().block_number <= head - 20
    )
    assert b"3+recent" not in _identities()

    proxy.faults.lag_blocks = 0
    assert run_pass(chain, redis).outcome == "done"
    assert _identities().count(b"3+recent") == 1
    assert Checkpoint.get().block_number == head


def test_429_with_retry_after_rests_the_endpoint_and_fails_over(anvil, proxy):
    proxy.faults.http_errors = [(429, 30)]
    client = RpcClient([proxy.url, anvil], "test", FAST)

    assert int(client.call("eth_blockNumber"), 16) >= 0
    assert client.endpoints[0].rested_until - time.monotonic() > 25
    client.close()


def test_503s_then_success(db, redis, epns, driver, proxy):
    _spread(driver, 3)
    proxy.faults.http_errors = [(503, None)] * 3

    result = run_pass(
        chain_config(epns, proxy.url), redis, RpcPolicy(2.0, 5, 0.02, 0.2)
    )

    assert result.outcome == "done", result.message
    assert len(_identities()) == 3


def test_persistent_503_gives_up_naming_chain_range_and_cause(
    db, redis, epns, driver, proxy
):
    _spread(driver, 2)
    chain = chain_config(epns, proxy.url)
    run_pass(chain, redis)
    driver.send_notification(CHANNEL, BOB, b"3+never")
    checkpoint = Checkpoint.get().block_number
    # Head and checkpoint check pass; every range request then gets a 503.
    proxy.faults.http_errors = [(0, None)] * 2 + [(503, None)] * 1000
    before = proxy.requests

    result = run_pass(chain, redis)

    assert result.outcome == "failed"
    assert f"chain {epns.chain_id}: blocks {checkpoint + 1}-" in result.message
    assert "HTTP 503" in result.message
    assert Checkpoint.get().block_number == checkpoint
    assert proxy.requests - before <= FAST.attempts * 2


def test_timeouts_are_retried(anvil):
    slow = RpcProxy(anvil).start()
    slow.faults.slow_requests = 1
    slow.faults.slow_seconds = 1.5
    client = RpcClient([slow.url], "test", RpcPolicy(0.5, 3, 0.01, 0.05))
    try:
        assert int(client.call("eth_chainId"), 16) == 31337
        assert slow.requests == 2
    finally:
        client.close()
        slow.stop()


def test_gives_up_after_bounded_attempts(anvil):
    dead = f"http://127.0.0.1:{free_port()}"
    client = RpcClient([dead], "test", RpcPolicy(0.5, 3, 0.01, 0.05))
    with pytest.raises(RpcGaveUp, match="gave up after 3 attempts"):
        client.call("eth_chainId")


def test_failover_to_the_next_url(db, redis, epns, driver, proxy, anvil):
    _spread(driver, 3)
    proxy.faults.http_errors = [(503, None)] * 3
    dead = f"http://127.0.0.1:{free_port()}"

    result = run_pass(chain_config(epns, [dead, proxy.url, anvil]), redis)

    assert result.outcome == "done", result.message
    assert len(_identities()) == 3


def test_rested_endpoint_is_tried_again_after_its_rest(anvil, proxy):
    proxy.faults.http_errors = [(503, None)]
    client = RpcClient([proxy.url, anvil], "test", FAST)

    client.call("eth_chainId")  # 503 from the proxy, answered by anvil
    assert proxy.requests == 1
    time.sleep(FAST.backoff_cap)
    client.call("eth_chainId")

    assert proxy.requests == 2
    client.close()


def test_dropped_log_is_noticed_by_bloom_and_read_again(db, redis, epns, driver, proxy):
    _spread(driver, 4)
    proxy.faults.drop_block_logs_once = True

    result = run_pass(chain_config(epns, proxy.url), redis)

    assert result.outcome == "done", result.message
    assert proxy.faults.drop_block_logs_once is False  # it did drop one
    assert len(_identities()) == 4


def test_removed_copies_are_never_applied(db, redis, epns, driver, proxy):
    _spread(driver, 3)
    proxy.faults.removed_copies = True

    result = run_pass(chain_config(epns, proxy.url), redis)

    assert result.outcome == "done", result.message
    recipients = {n.recipient for n in Notification.select()}
    assert recipients == {ALICE}
    assert Notification.select().count() == 3
