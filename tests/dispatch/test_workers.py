"""Real RQ workers (``rq_worker.py``) in subprocesses: crashes and fan-out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from rq.job import Job

from app.config import ROOT
from app.jobs.dispatch import dispatch_notification
from app.models import Delivery
from app.queue import enqueue_notification
from tests.dispatch import helpers as h
from tests.dispatch.conftest import configure_worker


def worker_env(settings, fakes, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        **fakes.env,
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "CHAINS_FILE": str(settings.chains_file),
        "LOG_LEVEL": os.environ.get("TEST_WORKER_LOG", "WARNING"),
        **extra,
    }
    return env


def start_worker(env: dict[str, str], *queues: str, burst: bool = True):
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "rq_worker.py"),
            *(["--burst"] if burst else []),
            *queues,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _batches(notification_id: int) -> list[tuple[int, int]]:
    ids = [
        d.id
        for d in Delivery.select(Delivery.id)
        .where(Delivery.notification == notification_id)
        .order_by(Delivery.id)
    ]
    return [(ids[i], ids[min(i + 500, len(ids)) - 1]) for i in range(0, len(ids), 500)]


def delivered_count(notification_id: int) -> int:
    return (
        Delivery.select()
        .where(
            (Delivery.notification == notification_id)
            & (Delivery.status == "delivered")
        )
        .count()
    )


def setup_audience(n: int) -> list[str]:
    h.make_channel()
    wallets = [h.wallet(i + 1) for i in range(n)]
    h.subscribe(wallets)
    tokens = h.tokens(n)
    h.register_many([(w, t, "ios") for w, t in zip(wallets, tokens, strict=True)])
    return tokens


@pytest.mark.slow
def test_killed_worker_batch_finished_without_repeating_delivered(
    worker, fakes, redis, settings
):
    tokens = setup_audience(3000)
    # The second window of 1,000 hangs on one token, so the worker is
    # killed with window one recorded and windows two and three in flight.
    fakes.apns.script.add(tokens[1500], [{"kind": "slow", "delay": 120}])
    n = h.notify(h.direct("1"))
    enqueue_notification(redis, n.id)
    proc = start_worker(
        worker_env(settings, fakes, PUSH_SEND_TIMEOUT="120"), "notifications"
    )
    try:
        wait_for(lambda: delivered_count(n.id) == 1000 and fakes.apns.count >= 2000)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        print(
            delivered_count(n.id), fakes.apns.count, proc.stderr.read().decode()[-3000:]
        )
    before = Counter(r["token"] for r in fakes.apns.received)
    recorded = {
        d.token for d in Delivery.select().where(Delivery.status == "delivered")
    }

    dispatch_notification(n.id)  # the job retried elsewhere

    sends = Counter(r["token"] for r in fakes.apns.received)
    assert delivered_count(n.id) == 3000
    assert all(sends[t] == 1 for t in recorded), "a recorded delivery was resent"
    assert set(sends) == set(tokens)
    twice = {t for t, count in sends.items() if count > 1}
    # Only the two windows in flight at the crash can repeat, under one
    # collapse id.
    assert twice <= set(tokens[1000:3000]) - recorded
    assert {t for t in before if before[t] > 1} == set()
    collapse = {r["collapse_id"] for r in fakes.apns.received}
    assert collapse == {f"epns-{n.id}"}


@pytest.mark.slow
def test_big_audience_fans_out_to_two_workers(worker, fakes, redis, settings):
    tokens = setup_audience(2000)
    n = h.notify(h.direct("1"))
    enqueue_notification(redis, n.id)
    env = worker_env(settings, fakes, PUSH_BATCH_SIZE="500")

    first = start_worker(env, "notifications", "pushes")
    first.wait(120)
    assert first.returncode == 0, first.stderr.read().decode()[-2000:]
    assert delivered_count(n.id) == 2000
    assert Counter(r["token"] for r in fakes.apns.received) == Counter(tokens)

    # Two long-running workers share the four batches of a second broadcast
    # (a burst worker could quit before the batches exist).
    fakes.reset()
    workers = [
        start_worker(env, "notifications", "pushes", burst=False) for _ in range(2)
    ]
    time.sleep(2)
    second = h.notify(h.direct("1", title="again"))
    enqueue_notification(redis, second.id)
    try:
        wait_for(lambda: delivered_count(second.id) == 2000)
    finally:
        for proc in workers:
            proc.terminate()
            proc.wait(30)
    names = {
        Job.fetch(f"push-{second.id}-{first}", connection=redis).worker_name
        for first, _ in _batches(second.id)
    }
    assert len(names) == 2, names
    assert Counter(r["token"] for r in fakes.apns.received) == Counter(tokens)


@pytest.mark.slow
def test_poller_queued_job_of_a_killed_worker_is_retried(
    worker, fakes, redis, settings
):
    """The job the poller hands off, abandoned by a SIGKILLed worker, runs
    again: the notification, already dispatched, is never re-queued by the
    poller, so without RQ's retry its open deliveries would stay unsent."""
    from rq.registry import StartedJobRegistry

    from app.queue import NOTIFICATIONS, notification_job_id
    from poller.handoff import enqueue_notifications

    tokens = setup_audience(3)
    fakes.apns.script.add(tokens[2], [{"kind": "slow", "delay": 120}])
    n = h.notify(h.direct("1"))
    assert enqueue_notifications(redis, [n.id]) == 1
    proc = start_worker(
        worker_env(settings, fakes, PUSH_SEND_TIMEOUT="120"), "notifications"
    )
    try:
        wait_for(lambda: fakes.apns.count >= 3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    registry = StartedJobRegistry(NOTIFICATIONS, connection=redis)
    registry.cleanup(timestamp=time.time() + 24 * 3600)  # its heartbeat ran out
    job = Job.fetch(notification_job_id(n.id), connection=redis)
    assert job.get_status() in ("scheduled", "queued"), job.get_status()
    assert job.retries_left == 2


@pytest.mark.slow
def test_dispatch_retried_after_fan_out_never_runs_a_batch_twice_at_once(
    worker, fakes, redis, settings
):
    """The dispatch job dies after queueing its batches and RQ runs it again
    while a batch is being sent: the batch must not be queued a second time,
    or another worker sends the same open deliveries in parallel."""
    from rq import Queue

    from app.queue import PUSHES

    tokens = setup_audience(1000)
    # Batch one (tokens 0-499) stays in flight on its first worker.
    fakes.apns.script.add(tokens[10], [{"kind": "slow", "delay": 8}])
    n = h.notify(h.direct("1"))
    env = worker_env(settings, fakes, PUSH_BATCH_SIZE="500")
    configure_worker(settings, fakes, PUSH_BATCH_SIZE="500")
    assert dispatch_notification(n.id)["outcome"] == "fanned out"
    first, second = _batches(n.id)
    queue = Queue(PUSHES, connection=redis)
    assert queue.job_ids == [f"push-{n.id}-{first[0]}", f"push-{n.id}-{second[0]}"]
    one = start_worker(env, "pushes", burst=False)
    try:
        wait_for(lambda: fakes.apns.count >= 499)  # batch one sent but one
        dispatch_notification(n.id)  # the dispatch job, run again by RQ
        two = start_worker(env, "pushes", burst=False)
        try:
            wait_for(lambda: delivered_count(n.id) == 1000)
            time.sleep(1)
        finally:
            two.terminate()
            two.wait(30)
    finally:
        one.terminate()
        one.wait(30)
    sends = Counter(r["token"] for r in fakes.apns.received)
    assert {t for t, count in sends.items() if count > 1} == set()
    assert set(sends) == set(tokens)
