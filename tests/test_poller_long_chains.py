"""Chains with thousands of blocks: range bounds (P3) and empty blocks (P4)."""

from __future__ import annotations

import itertools
import os

import pytest

from app.models import Checkpoint, Notification
from devstack.chain import EpnsDriver, deploy_epns
from tests.fakes.rpc_proxy import RpcProxy
from tests.poller_support import ALICE, CHANNEL, chain_config, run_pass

pytestmark = pytest.mark.slow

# anvil 1.7 mines each block in time proportional to the chain's length, so
# 10,000 empty blocks (case P4) take minutes on a busy machine; the default
# keeps the shape (several full-width ranges of nothing) at a quarter of the
# cost. P4_EMPTY_BLOCKS=10000 runs the case exactly.
EMPTY_BLOCKS = int(os.environ.get("P4_EMPTY_BLOCKS", "5000"))


@pytest.fixture
def long_chain(long_anvil):
    deployment = deploy_epns(long_anvil)
    driver = EpnsDriver(long_anvil, deployment)
    proxy = RpcProxy(long_anvil).start()
    yield deployment, driver, proxy
    proxy.stop()
    driver.close()


def test_p3_no_request_spans_more_than_max_range(db, redis, long_chain):
    deployment, driver, proxy = long_chain
    driver.mine(1200)
    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.send_notification(CHANNEL, ALICE, b"3+middle")
    driver.mine(1300)

    result = run_pass(chain_config(deployment, proxy.url, max_range=1000), redis)

    assert result.outcome == "done", result.message
    widths = [last - first + 1 for first, last in proxy.log_ranges]
    assert max(widths) == 1000
    # A range retried after a timeout is the same range again, not an overlap.
    ranges = sorted(set(proxy.log_ranges))
    assert ranges[0][0] == deployment.deploy_block
    assert ranges[-1][1] == driver.block_number()
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    assert Notification.select().count() == 1


def test_p4_thousands_of_empty_blocks_then_one_event(db, redis, long_chain):
    deployment, driver, proxy = long_chain
    chain = chain_config(deployment, proxy.url)
    driver.mine(EMPTY_BLOCKS)
    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.send_notification(CHANNEL, ALICE, b"3+late")

    first = run_pass(chain, redis)
    second = run_pass(chain, redis)

    assert (first.outcome, second.outcome) == ("done", "done")
    assert [bytes(n.identity) for n in Notification.select()] == [b"3+late"]
    assert Checkpoint.get().block_number == driver.block_number()
    assert len(proxy.log_ranges) >= EMPTY_BLOCKS // 2000  # max_range steps
