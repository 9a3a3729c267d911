"""Whole runs: hand-off after a crash (P6), the lock, the CLI and its exit
statuses, concurrent runs, and a backfill killed with SIGKILL until done."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from rq import Queue

from app.config import ROOT
from app.models import Notification
from app.queue import NOTIFICATIONS, notification_job_id
from devstack.chain import write_chains_file
from devstack.services import free_port
from poller.handoff import enqueue_notifications
from poller.lock import ChainLock
from tests.fakes.rpc_proxy import RpcProxy
from tests.poller_support import ALICE, BOB, CHANNEL, chain_config, run_pass


def _queued(redis) -> list[str]:
    return Queue(NOTIFICATIONS, connection=redis).job_ids


def _all_job_ids() -> set[str]:
    return {notification_job_id(n.id) for n in Notification.select(Notification.id)}


class HandOffDown(RuntimeError):
    pass


def _crash_after_commit(redis, ids):
    if ids:
        raise HandOffDown("died between commit and enqueue")
    return 0


def test_p6_killed_between_commit_and_enqueue_is_enqueued_once(
    db, redis, anvil, epns, driver
):
    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.send_notifications([(CHANNEL, ALICE, b"3+a"), (CHANNEL, BOB, b"3+b")])
    chain = chain_config(epns, anvil)

    crashed = run_pass(chain, redis, enqueue=_crash_after_commit)
    assert crashed.outcome == "failed"
    assert Notification.select().count() == 2
    assert _queued(redis) == []

    restarted = run_pass(chain, redis)
    again = run_pass(chain, redis)

    assert (restarted.outcome, again.outcome) == ("done", "done")
    queued = _queued(redis)
    assert sorted(queued) == sorted(_all_job_ids())
    assert len(queued) == 2


def test_enqueue_skips_live_jobs(db, redis):
    assert enqueue_notifications(redis, [1, 2, 3]) == 3
    assert enqueue_notifications(redis, [2, 3, 4]) == 1
    assert len(_queued(redis)) == 4


def test_lock_held_by_a_live_run_makes_a_pass_exit_at_once(
    db, redis, anvil, epns, driver
):
    driver.send_notification(CHANNEL, ALICE, b"3+x")
    chain = chain_config(epns, anvil)
    holder = ChainLock(redis, chain.chain_id, ttl=30)
    assert holder.acquire()
    try:
        result = run_pass(chain, redis)
    finally:
        holder.release()

    assert result.outcome == "busy"
    assert "another run holds the lock" in result.message
    assert Notification.select().count() == 0


def test_lock_of_a_dead_run_is_taken_over(db, redis, anvil, epns, driver):
    driver.send_notification(CHANNEL, ALICE, b"3+x")
    chain = chain_config(epns, anvil)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = json.loads(ChainLock(redis, chain.chain_id).value) | {"pid": dead.pid}
    redis.set(f"epns:poller:lock:{chain.chain_id}", json.dumps(stale), px=60_000)

    result = run_pass(chain, redis)

    assert result.outcome == "done", result.message
    assert Notification.select().count() == 1


def _env(database_url: str, redis_url: str, chains_file, **extra) -> dict:
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CHAINS_FILE": str(chains_file),
        "PYTHONPATH": str(ROOT),
        "POLLER_BACKOFF_BASE": "0.02",
        "POLLER_BACKOFF_CAP": "0.1",
    }
    env.pop("CHAINS", None)
    env.update(extra)
    return env


def _poller(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "poller", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_cli_exit_statuses(db, redis_url, database_url, anvil, epns, tmp_path):
    chains = write_chains_file(tmp_path / "chains.json", epns, anvil)
    ok = _poller(_env(database_url, redis_url, chains))
    assert ok.wait(60) == 0, ok.stdout.read()
    assert "chain 31337: done" in ok.stdout.read()

    bad = _poller(_env(database_url, redis_url, chains, CHAINS="[not json"))
    assert bad.wait(60) == 2
    assert "CHAINS: not valid JSON" in bad.stdout.read()

    unknown = _poller(_env(database_url, redis_url, chains), "--chain", "5")
    assert unknown.wait(60) == 2

    dead = write_chains_file(
        tmp_path / "dead.json", epns, f"http://127.0.0.1:{free_port()}", chain_id=7
    )
    failed = _poller(_env(database_url, redis_url, dead, POLLER_RPC_ATTEMPTS="2"))
    assert failed.wait(60) == 1
    assert "chain 7" in failed.stdout.read()

    no_redis = f"redis://127.0.0.1:{free_port()}/0"
    unreachable = _poller(_env(database_url, no_redis, chains))
    assert unreachable.wait(60) == 1
    assert "Redis unreachable" in unreachable.stdout.read()


def test_follow_mode_stops_cleanly_on_sigterm(
    db, redis_url, database_url, anvil, epns, tmp_path
):
    chains = write_chains_file(tmp_path / "chains.json", epns, anvil)
    env = _env(database_url, redis_url, chains, LOG_LEVEL="DEBUG")
    proc = _poller(env, "--follow", "--interval", "0.2")

    # Stop it once it is following: after its second pass, idle or not.
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if sum("chain 31337: done" in s for s in seen) == 2:
            break
    proc.send_signal(signal.SIGTERM)

    assert proc.wait(30) == 0, "".join(seen[-20:])


def _backfill(driver, blocks: int, per_block: int) -> None:
    driver.add_channel(CHANNEL, b"1+QmMeta")
    for block in range(blocks):
        driver.send_notification_repeated(
            CHANNEL, ALICE, f"3+b{block}".encode(), per_block
        )


def test_two_concurrent_runs(
    db, redis, redis_url, database_url, anvil, epns, driver, tmp_path
):
    _backfill(driver, 60, 20)
    slow = RpcProxy(anvil).start()  # a pass of ~60 ranges takes seconds
    slow.faults.every_request_delay = 0.05
    chains = write_chains_file(tmp_path / "chains.json", epns, slow.url, max_range=1)
    env = _env(database_url, redis_url, chains)

    first, second = _poller(env), _poller(env)
    try:
        outputs = [
            first.communicate(timeout=120)[0],
            second.communicate(timeout=120)[0],
        ]
    finally:
        slow.stop()

    assert (first.returncode, second.returncode) == (0, 0), outputs
    assert sum("another run holds the lock" in out for out in outputs) == 1, outputs
    assert Notification.select().count() == 1200
    queued = _queued(redis)
    assert len(queued) == len(set(queued)) == 1200


def _wait_for_progress(proc: subprocess.Popen, stored: int) -> None:
    """Until the run has stored more than ``stored`` notifications or ended."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and Notification.select().count() == stored:
        assert time.monotonic() < deadline, "the poller stored nothing"
        time.sleep(0.01)


def _kill_until_done(env: dict, rng: random.Random) -> int:
    """Start the poller again and again, SIGKILLing it at random points,
    until a run completes the backfill; the number of kills."""
    kills = 0
    for attempt in range(60):
        proc = _poller(env)
        # The first runs die mid-backfill for sure, shortly after storing
        # something; later ones get more time.
        if attempt < 4:
            _wait_for_progress(proc, Notification.select().count())
            lifetime = rng.uniform(0.0, 0.2)
        else:
            lifetime = rng.uniform(0.5, 3.0)
        try:
            proc.wait(timeout=lifetime)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        finally:
            proc.stdout.close()
        if proc.returncode == 0 and Notification.select().count() == 10_000:
            break
    return kills


@pytest.mark.slow
def test_backfill_killed_at_random_points_ends_with_every_notification_once(
    db, redis, redis_url, database_url, anvil, epns, driver, tmp_path
):
    _backfill(driver, 100, 100)  # 10,000 notifications in 100 blocks
    # Each RPC answer delayed, so a whole backfill outlasts the kill times
    # however fast the poller stores: every early run dies mid-backfill.
    slow = RpcProxy(anvil).start()
    slow.faults.every_request_delay = 0.03
    chains = write_chains_file(tmp_path / "chains.json", epns, slow.url, max_range=2)
    env = _env(database_url, redis_url, chains)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    try:
        kills = _kill_until_done(env, rng)
    finally:
        slow.stop()

    assert kills >= 4, f"seed {seed}: {kills} kills"
    assert Notification.select().count() == 10_000, f"seed {seed}"
    queued = _queued(redis)
    assert len(queued) == len(set(queued)) == 10_000, f"seed {seed}"
    assert set(queued) == _all_job_ids()


def test_batched_jobs_are_what_enqueue_notification_writes(redis):
    from rq.job import Job

    from app.queue import enqueue_notification

    enqueue_notifications(redis, [5])
    ours = redis.hgetall("rq:job:notification-5")
    ours_job = Job.fetch("notification-5", connection=redis)
    ours_queue = redis.lrange("rq:queue:notifications", 0, -1)
    redis.flushdb()
    enqueue_notification(redis, 5)
    theirs = redis.hgetall("rq:job:notification-5")
    theirs_job = Job.fetch("notification-5", connection=redis)

    # The call and meta are pickled differently (uncompressed, protocol 0):
    # they must read back the same. The fields RQ writes empty are left
    # out, and RQ reads the job as it reads its own.
    differ = {b"created_at", b"enqueued_at", b"data", b"meta"}
    assert {k: v for k, v in ours.items() if k not in differ} == {
        k: v for k, v in theirs.items() if k not in differ and v
    }
    assert ours.keys() == {k for k, v in theirs.items() if v}
    assert b"" not in ours.values()
    assert {
        k: v for k, v in ours_job.to_dict().items() if k.encode() not in differ
    } == {k: v for k, v in theirs_job.to_dict().items() if k.encode() not in differ}
    assert ours_queue == redis.lrange("rq:queue:notifications", 0, -1)
    for job in (ours_job, theirs_job):
        assert (job.func_name, job.args, job.kwargs, job.meta) == (
            "app.jobs.dispatch.dispatch_notification",
            (5,),
            {},
            {"notification_id": 5},
        )


def test_an_rq_worker_runs_the_jobs_the_poller_queues(db, redis):
    from rq import SimpleWorker
    from rq.job import Job

    rows = [
        Notification.create(
            chain_id=31337,
            tx_hash="0x" + f"{i:064x}",
            log_index=i,
            block_number=7,
            block_hash="0x" + "77" * 32,
            channel=CHANNEL,
            recipient=ALICE,
            identity=b"3+x",
            status="cancelled",
            reason="reorg",
        )
        for i in range(3)
    ]
    assert enqueue_notifications(redis, [row.id for row in rows]) == 3

    worker = SimpleWorker([NOTIFICATIONS], connection=redis)
    assert worker.work(burst=True)

    for row in rows:
        job = Job.fetch(notification_job_id(row.id), connection=redis)
        assert job.get_status() == "finished", job.exc_info
        assert job.args == (row.id,)
        assert job.return_value() == {"outcome": "cancelled"}


def test_a_pass_sets_older_objects_aside_from_collections_and_hands_them_back(
    db, redis, anvil, epns, driver
):
    import gc

    driver.add_channel(CHANNEL, b"1+QmMeta")
    driver.send_notification(CHANNEL, ALICE, b"3+a")
    frozen_during = []

    def enqueue(redis, ids):
        frozen_during.append(gc.get_freeze_count())
        return enqueue_notifications(redis, ids)

    result = run_pass(chain_config(epns, anvil), redis, enqueue=enqueue)

    assert result.outcome == "done", result.message
    assert frozen_during and all(count > 0 for count in frozen_during)
    assert gc.get_freeze_count() == 0
