"""Chain fixtures: one anvil per test session, a fresh deployment per test.

``anvil`` is the RPC URL of a session-wide anvil. ``epns`` snapshots the
chain, deploys our EPNS-compatible contracts and reverts the snapshot after
the test, so every test starts from the same blocks and addresses.
``driver`` is an ``EpnsDriver`` on that deployment. ``long_anvil`` is a
module-wide anvil for tests that mine many blocks; deploy on it yourself.
"""

from __future__ import annotations

import pytest

from devstack.chain import EpnsDeployment, EpnsDriver, Rpc, deploy_epns
from devstack.services import start_anvil, stop


@pytest.fixture(scope="session")
def anvil():
    proc, url = start_anvil()
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def long_anvil():
    """A separate anvil for tests that mine thousands of blocks: without
    snapshots and with pruned state history, mining is several times faster."""
    proc, url = start_anvil(extra_args=("--prune-history", "1"))
    yield url
    stop(proc)


@pytest.fixture
def epns(anvil: str):
    rpc = Rpc(anvil)
    snapshot = rpc.call("evm_snapshot")
    deployment = deploy_epns(anvil)
    yield deployment
    rpc.call("evm_revert", snapshot)
    rpc.close()


@pytest.fixture
def driver(anvil: str, epns: EpnsDeployment):
    drv = EpnsDriver(anvil, epns)
    yield drv
    drv.close()
