"""Dispatch benchmark: ``python -m bench.dispatch_bench [--pushes N] [--no-broadcast]``.

Runs, in one go, against the local fakes (separate processes):
1. N pushes from one worker process (``rq_worker.py``), timed by RQ;
2. the same N requests from a bare HTTP/2 client, and the ratio;
3. a broadcast to 100,000 subscribers with 150,000 devices (100,000 iOS,
   50,000 Android) shared by two workers, timed end to end.
Peak RSS of every worker is read from /proc. Use ``--database-url`` for
MariaDB (a database of its own: its tables are emptied).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from rq.job import Job

from app.config import ROOT
from app.db import database
from app.jobs.apns import SharedJwt
from app.jobs.messages import ChannelInfo, apns_payload, collapse_id
from app.jobs.payload import Payload
from app.models import Channel, Delivery, Notification
from app.queue import connect_redis, enqueue_notification, notification_job_id
from bench.bare_h2 import send_all
from bench.databases import create_database
from bench.results import record
from devstack.push_credentials import DEV_TEAM_ID, DEV_TOPIC, make_dev_credentials
from devstack.services import free_port, start_valkey, stop, wait_http
from migrations import empty_database

CHAIN = 1
IDENTITY = b'2+{"notification":{"title":"Bench","body":"A push"},"data":{"type":"1"}}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pushes", type=int, default=20000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=150_000)
    parser.add_argument("--no-broadcast", action="store_true")
    parser.add_argument("--database-url")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        env = _start_fakes(work, procs)
        valkey_sock = work / "valkey.sock"
        procs.append(start_valkey(valkey_sock))
        env |= {
            "APP_ENV": "test",
            "DATABASE_URL": args.database_url or f"sqlite:///{work / 'bench.sqlite3'}",
            "REDIS_URL": f"unix://{valkey_sock}",
            "CHAINS_FILE": str(work / "none.json"),
            "LOG_LEVEL": "WARNING",
        }
        create_database(env["DATABASE_URL"])
        empty_database(env["DATABASE_URL"])
        redis = connect_redis(env["REDIS_URL"])

        ours, rss = _one_worker(args.pushes, env, redis)
        bare = _bare_client(args.pushes, env)
        print(f"one worker : {ours:8.0f} pushes/s  (peak RSS {rss:.0f} MB)")
        print(f"bare HTTP/2: {bare:8.0f} pushes/s")
        print(f"ratio      : {ours / bare:8.0%}")
        figures = {"ours": ours, "bare": bare, "ratio": ours / bare, "rss_mb": rss}
        if not args.no_broadcast:
            seconds, peaks = _broadcast(args.subscribers, args.devices, env, redis)
            print(
                f"broadcast  : {args.devices} devices of {args.subscribers} "
                f"subscribers in {seconds:.1f} s with 2 workers "
                f"({args.devices / seconds:.0f}/s), "
                f"peak RSS {', '.join(f'{p:.0f}' for p in peaks)} MB"
            )
            figures |= {"broadcast_s": seconds, "broadcast_rss_mb": max(peaks)}
        record("dispatch", **figures)
    finally:
        for proc in reversed(procs):
            stop(proc)


def _start_fakes(work: Path, procs: list) -> dict[str, str]:
    apns_port, control, fcm_port = free_port(), free_port(), free_port()
    python = sys.executable
    procs.append(_spawn([python, "-m", "tests.fakes.fcm", "--port", str(fcm_port)]))
    procs.append(
        _spawn(
            [
                python,
                "-m",
                "tests.fakes.apns",
                "--port",
                str(apns_port),
                "--control-port",
                str(control),
                "--cert-dir",
                str(work / "cert"),
            ]
        )
    )
    for port in (fcm_port, control):
        wait_http(f"http://127.0.0.1:{port}/_fake/stats", "fake", 20)
    return make_dev_credentials(
        work / "credentials",
        f"http://127.0.0.1:{fcm_port}",
        "127.0.0.1",
        apns_port,
        work / "cert" / "ca.pem",
    ) | {"BENCH_APNS_CONTROL": str(control)}


def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [*args, "--quiet", "--light"], cwd=ROOT, stdout=subprocess.DEVNULL
    )


def _seed(channel: str, wallets: int, ios: int, android: int) -> None:
    """Subscribers and devices by executemany: the bench measures sending."""
    Channel.create(chain_id=CHAIN, address=channel, name="Bench")
    p = database.param
    cursor = database.cursor()
    subs = [(CHAIN, channel, _wallet(channel, i), True, 0) for i in range(wallets)]
    cursor.executemany(
        "INSERT INTO subscription (chain_id, channel, subscriber, active, block_number)"
        f" VALUES ({p}, {p}, {p}, {p}, {p})",
        subs,
    )
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    devices = [
        (_wallet(channel, i % wallets), f"{channel[-4:]}{platform}{i:058x}", platform)
        for platform, count in (("ios", ios), ("android", android))
        for i in range(count)
    ]
    cursor.executemany(
        "INSERT INTO device_token (wallet, token, platform, app_id, created_at, "
        f"updated_at) VALUES ({p}, {p}, {p}, 'default', '{now}', '{now}')",
        devices,
    )


def _wallet(channel: str, i: int) -> str:
    return "0x" + channel[2:6] + f"{i:036x}"


def _notify(channel: str) -> int:
    return Notification.create(
        chain_id=CHAIN,
        tx_hash="0x" + os.urandom(32).hex(),
        log_index=0,
        block_number=1,
        block_hash="0x" + "00" * 32,
        channel=channel,
        recipient=channel,
        identity=IDENTITY,
    ).id


def _workers(
    env: dict[str, str], count: int, burst: bool = True
) -> tuple[list[subprocess.Popen], list]:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "rq_worker.py"),
                *(["--burst"] if burst else []),
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        )
        for _ in range(count)
    ]
    peaks = [0.0] * count

    def sample() -> None:
        while any(p.poll() is None for p in procs):
            for i, proc in enumerate(procs):
                peaks[i] = max(peaks[i], _rss_mb(proc.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    return procs, [watcher, peaks]


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _one_worker(pushes: int, env: dict[str, str], redis) -> tuple[float, float]:
    channel = "0x" + "b1" * 20
    _seed(channel, pushes, pushes, 0)
    notification_id = _notify(channel)
    enqueue_notification(redis, notification_id)
    procs, (watcher, peaks) = _workers(env | {"PUSH_BATCH_SIZE": str(pushes)}, 1)
    procs[0].wait()
    watcher.join()
    job = Job.fetch(notification_job_id(notification_id), connection=redis)
    result = job.return_value() or {}
    if result.get("sent") != pushes:
        raise SystemExit(f"worker sent {result.get('sent')} of {pushes}: {result}")
    seconds = (job.ended_at - job.started_at).total_seconds()
    return pushes / seconds, peaks[0]


def _bare_client(pushes: int, env: dict[str, str]) -> float:
    key = Path(env["APNS_KEY_FILE"]).read_text()
    auth = SharedJwt(key, env["APNS_KEY_ID"], DEV_TEAM_ID).get_header()
    payload = Payload(type="1", title="Bench", body="A push")
    body = apns_payload(payload, ChannelInfo("0x" + "b1" * 20, "Bench"), 1)
    headers = {
        "apns-topic": DEV_TOPIC,
        "apns-priority": "10",
        "apns-collapse-id": collapse_id(1),
        "apns-push-type": "alert",
        "authorization": auth,
    }
    tokens = [f"bare{i:060x}" for i in range(pushes)]
    seconds, ok = asyncio.run(
        send_all(
            "127.0.0.1",
            int(env["APNS_PORT"]),
            env["APNS_CA_FILE"],
            tokens,
            headers,
            body,
        )
    )
    if ok != pushes:
        raise SystemExit(f"bare client: {ok} of {pushes} answered 200")
    return pushes / seconds


def _wait_final(notification_id: int, devices: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = (
            Delivery.select()
            .where(
                (Delivery.notification == notification_id)
                & Delivery.status.not_in(("claimed", "retry"))
            )
            .count()
        )
        if done >= devices:
            return
        time.sleep(1.0)
    raise SystemExit(f"broadcast not finished in {timeout:.0f} s")


def _broadcast(subscribers: int, devices: int, env, redis) -> tuple[float, list]:
    channel = "0x" + "b2" * 20
    ios = min(devices, subscribers)
    _seed(channel, subscribers, ios, devices - ios)
    notification_id = _notify(channel)
    # Not burst workers: a burst worker would quit before the batches exist.
    procs, (watcher, peaks) = _workers(env, 2, burst=False)
    time.sleep(3)  # both workers up before the clock starts
    start = time.perf_counter()
    enqueue_notification(redis, notification_id)
    _wait_final(notification_id, devices)
    elapsed = time.perf_counter() - start
    for proc in procs:
        proc.terminate()
        proc.wait(30)
    watcher.join()
    delivered = json.loads(
        urllib.request.urlopen(
            f"http://127.0.0.1:{env['BENCH_APNS_CONTROL']}/_fake/stats"
        ).read()
    )["received"]
    print(f"(APNs fake received {delivered} requests in total)")
    return elapsed, peaks


if __name__ == "__main__":
    main()
