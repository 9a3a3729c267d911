"""The operator's commands, on the test database, the test Redis and anvil."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys

import pytest
import requests
from rq import Queue
from rq.job import Job

from app import create_app
from app.config import ROOT
from app.models import (
    ChainEvent,
    Checkpoint,
    Delivery,
    DeviceToken,
    Notification,
    utcnow,
)
from app.queue import NOTIFICATIONS, notification_job_id
from devstack.services import start_anvil, stop

WALLET = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
TOKEN = "fcm-Zk3rT9qLmW2xV8bN4cJ7hY1pD6sA0eUuIoPq:APA91bExampleDeviceToken42"


@pytest.fixture(scope="module")
def anvil():
    proc, url = start_anvil()
    _rpc(url, "anvil_mine", [hex(20)])
    yield url
    stop(proc)


def _rpc(url: str, method: str, params: list) -> object:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return requests.post(url, json=body, timeout=10).json()["result"]


@pytest.fixture
def cli(db, redis, settings, anvil):
    chains = json.dumps(
        [
            {
                "chain_id": 31337,
                "name": "anvil",
                "rpc_urls": ["http://127.0.0.1:9", anvil],
                "comm_address": "0x" + "00" * 20,
            }
        ]
    )
    app = create_app(dataclasses.replace(settings, chains_json=chains))
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["epns", *args])


def _notification(log_index: int, status: str, age_days: float = 0) -> Notification:
    return Notification.create(
        chain_id=31337,
        tx_hash="0x" + "ab" * 32,
        log_index=log_index,
        block_number=10,
        block_hash="0x" + "cd" * 32,
        channel=WALLET,
        recipient=WALLET,
        identity=b"1+title+body",
        status=status,
        created_at=utcnow() - dt.timedelta(days=age_days),
    )


def _event(block: int, log_index: int, age_days: float) -> ChainEvent:
    return ChainEvent.create(
        chain_id=31337,
        block_number=block,
        block_hash="0x" + "cd" * 32,
        tx_hash="0x" + "ef" * 32,
        log_index=log_index,
        contract=WALLET,
        name="Subscribe",
        args="{}",
        created_at=utcnow() - dt.timedelta(days=age_days),
    )


def test_checkpoint_show(cli):
    assert "no checkpoints yet" in cli("checkpoint", "show").output
    Checkpoint.create(
        chain_id=31337, block_number=12, block_hash="0x" + "aa" * 32, head_block=30
    )

    result = cli("checkpoint", "show")

    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[1].split()
    assert line[:3] == ["31337", "12", "30"]
    assert line[-1] == "0x" + "aa" * 32


def test_checkpoint_reset_rewinds_to_the_canonical_hash(cli, anvil):
    Checkpoint.create(chain_id=31337, block_number=15, block_hash="0x" + "aa" * 32)

    result = cli("checkpoint", "reset", "--chain", "31337", "--to-block", "5", "--yes")

    assert result.exit_code == 0, result.output
    expected = _rpc(anvil, "eth_getBlockByNumber", [hex(5), False])["hash"]
    row = Checkpoint.get_by_id(31337)
    assert (row.block_number, row.block_hash) == (5, expected)
    assert json.loads(row.recent) == [[5, expected]]


def test_checkpoint_reset_asks_first(db, redis, settings):
    Checkpoint.create(chain_id=31337, block_number=15, block_hash="0x" + "aa" * 32)
    runner = create_app(settings).test_cli_runner()

    args = ["epns", "checkpoint", "reset", "--chain", "31337", "--to-start"]
    result = runner.invoke(args=args, input="n\n")

    assert result.exit_code == 1
    assert "Aborted" in result.output
    assert Checkpoint.get_by_id(31337).block_number == 15


def test_checkpoint_reset_refuses_to_move_forward(cli):
    Checkpoint.create(chain_id=31337, block_number=3, block_hash="0x" + "aa" * 32)

    result = cli("checkpoint", "reset", "--chain", "31337", "--to-block", "9", "--yes")

    assert result.exit_code == 1
    assert "only rewinds" in result.output
    assert Checkpoint.get_by_id(31337).block_number == 3


def test_checkpoint_reset_refuses_a_block_not_mined_yet(cli):
    result = cli(
        "checkpoint", "reset", "--chain", "31337", "--to-block", "999999", "--yes"
    )

    assert result.exit_code == 1
    assert "no block 999999" in result.output
    assert Checkpoint.get_or_none(Checkpoint.chain_id == 31337) is None


def test_checkpoint_reset_to_start_deletes_it(cli):
    Checkpoint.create(chain_id=31337, block_number=3, block_hash="0x" + "aa" * 32)

    result = cli("checkpoint", "reset", "--chain", "31337", "--to-start", "--yes")

    assert result.exit_code == 0, result.output
    assert Checkpoint.get_or_none(Checkpoint.chain_id == 31337) is None
    assert cli("checkpoint", "reset", "--chain", "31337", "--yes").exit_code == 2


def test_redispatch_resets_status_and_queues_once(cli, redis):
    row = _notification(1, "dispatched")

    first = cli("redispatch", str(row.id))
    second = cli("redispatch", str(row.id))

    assert first.exit_code == 0, first.output
    assert "pending, queued" in first.output
    assert "already queued" in second.output
    assert Notification.get_by_id(row.id).status == "pending"
    queue = Queue(NOTIFICATIONS, connection=redis)
    assert queue.job_ids == [notification_job_id(row.id)]
    job = Job.fetch(notification_job_id(row.id), connection=redis)
    assert job.meta["notification_id"] == row.id


def test_redispatch_refuses_cancelled_and_unknown(cli, redis):
    cancelled = _notification(2, "cancelled")

    result = cli("redispatch", str(cancelled.id), "999999")

    assert result.exit_code == 1
    assert "cancelled by a reorg" in result.output
    assert "no notification 999999" in result.output
    assert Notification.get_by_id(cancelled.id).status == "cancelled"
    assert Queue(NOTIFICATIONS, connection=redis).count == 0


def test_devices_lists_by_suffix_only(cli):
    DeviceToken.create(wallet=WALLET, token=TOKEN, platform="android")
    DeviceToken.create(wallet=WALLET, token="b" * 64, platform="ios")

    result = cli("devices", WALLET.upper().replace("0X", "0x"))

    assert result.exit_code == 0, result.output
    assert "android" in result.output
    assert "…oken42" in result.output
    assert TOKEN not in result.output
    assert "b" * 64 not in result.output
    assert cli("devices", "0x123").exit_code == 1


def test_prune_deletes_only_old_finished_rows(cli):
    Checkpoint.create(chain_id=31337, block_number=100, block_hash="0x" + "aa" * 32)
    old = _notification(1, "dispatched", age_days=40)
    Delivery.create(notification=old, token=TOKEN, platform="android")
    _notification(2, "skipped", age_days=40)
    kept_pending = _notification(3, "pending", age_days=40)
    kept_recent = _notification(4, "dispatched", age_days=1)
    _event(block=50, log_index=0, age_days=40)
    kept_above = _event(block=100, log_index=1, age_days=40)
    kept_young = _event(block=50, log_index=2, age_days=1)

    dry = cli("prune", "--days", "30", "--dry-run")
    assert "would delete 2 notifications, 1 deliveries, 1 chain events" in dry.output
    assert Notification.select().count() == 4

    result = cli("prune", "--days", "30")

    assert result.exit_code == 0, result.output
    assert "deleted 2 notifications, 1 deliveries, 1 chain events" in result.output
    assert {n.id for n in Notification.select()} == {kept_pending.id, kept_recent.id}
    assert Delivery.select().count() == 0
    assert {e.id for e in ChainEvent.select()} == {kept_above.id, kept_young.id}


def test_documented_command_runs(db, database_url, redis_url, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CHAINS_FILE": str(tmp_path / "none.json"),
    }
    args = [sys.executable, "-m", "flask", "--app", "wsgi", "epns", "checkpoint"]

    result = subprocess.run(
        [*args, "show"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert "no checkpoints yet" in result.stdout
