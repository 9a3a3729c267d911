"""Backfill throughput of the poller against bare ``eth_getLogs``.

``python -m bench.poller_bench [--database-url mysql://...] [--events N]``

Starts its own anvil, deploys our EPNS contracts, emits N SendNotification
logs (plus channel creation), then measures on the same block range:

- bare: ``eth_getLogs`` over the range in the poller's range size, JSON
  parsed, nothing else;
- poller: one full pass (headers checked, logs decoded, rows and checkpoint
  committed to the database, one dispatch job per notification queued);
- database alone: the pass's INSERT statements, written out beforehand,
  run again in one transaction on an empty database.

The database is emptied before each pass (MySQL tables truncated, see
``empty_tables``): give it a database of its own. Redis comes from
REDIS_URL, else an embedded Valkey is started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

from app.config import parse_chains
from app.db import database, is_mysql
from app.models import ALL_MODELS, Notification
from app.queue import connect_redis
from bench import cpu
from bench.cpu import CpuMeter
from bench.databases import create_database
from bench.results import record
from devstack.chain import EpnsDriver, chain_entry, deploy_epns
from devstack.services import start_anvil, start_valkey, stop
from migrations import empty_database
from poller.decode import decode_log
from poller.fetch import RangeReader
from poller.runner import ChainRunner
from poller.store import prepare_range

CHANNEL = "0x" + "c1" * 20
USER = "0x" + "a1" * 20
PER_TX = 500  # notifications per transaction (one busy block each)
MAX_RANGE = 16  # blocks per range: about 2,000 logs, ten ranges for 20,000


def emit(driver: EpnsDriver, events: int) -> None:
    driver.add_channel(CHANNEL, b"1+QmBenchChannel")
    left = events
    while left > 0:
        count = min(PER_TX, left)
        driver.send_notification_repeated(CHANNEL, USER, b"3+bench", count)
        driver.mine(3)  # empty blocks between the busy ones
        left -= count


def empty_tables(database_url: str) -> None:
    """Empty the database before a timed pass.

    MySQL tables are truncated, not deleted from: the chain is the same on
    every run (same transactions, so the same notification keys), and rows
    deleted just before, not yet purged by InnoDB, would lie under the very
    keys the pass inserts, work that no real backfill does.
    """
    create_database(database_url)
    db = empty_database(database_url)
    if not is_mysql(db):
        return
    db.execute_sql("SET FOREIGN_KEY_CHECKS = 0")
    try:
        for model in ALL_MODELS:
            db.execute_sql(f"TRUNCATE TABLE `{model._meta.table_name}`")
    finally:
        db.execute_sql("SET FOREIGN_KEY_CHECKS = 1")


def bare_fetch(
    rpc_url: str, reader: RangeReader, first: int, last: int
) -> tuple[int, float]:
    """Only eth_getLogs in MAX_RANGE steps, as a lower bound on any reader."""
    session = requests.Session()
    started = time.perf_counter()
    logs = 0
    for start in range(first, last + 1, MAX_RANGE):
        end = min(last, start + MAX_RANGE - 1)
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_getLogs",
            "params": [reader.log_filter(start, end)],
        }
        logs += len(
            session.post(
                rpc_url,
                data=json.dumps(body),
                headers={"Content-Type": "application/json"},
            ).json()["result"]
        )
    return logs, time.perf_counter() - started


def store_alone(runner: ChainRunner, first: int, last: int, database_url: str) -> float:
    """The pass's INSERTs run again in one transaction, with nothing read,
    decoded or queued around them: the database's own share of a pass, a
    floor under any poller that stores these rows on this machine."""
    chain_id = runner.chain.chain_id
    statements = []
    while first <= last:
        read = runner.scanner.read_next(first, last)
        events = [decode_log(raw, chain_id) for raw in read.logs]
        prepared = prepare_range(chain_id, [e for e in events if e is not None])
        statements += prepared.inserts
        first = read.last + 1

    empty_tables(database_url)
    started = time.perf_counter()
    with database.atomic():
        for sql, params in statements:
            database.execute_sql(sql, params)
    return time.perf_counter() - started


def _meter(redis, anvil_pid: int) -> CpuMeter:
    return CpuMeter(
        {
            "poller": cpu.own(),
            "MariaDB": cpu.named("mariadbd", "mysqld"),
            "Redis": cpu.redis_server(redis),
            "anvil": cpu.process_tree(anvil_pid),
        }
    )


def _print_cpu(label: str, meter: CpuMeter, bare_seconds: float) -> None:
    """CPU seconds per process, and the floor their sum puts under the wall
    time on this machine's cores (none of it can run on a core twice)."""
    cores = os.cpu_count() or 1
    spent = ", ".join(f"{name} {seconds:.2f}" for name, seconds in meter.spent.items())
    floor = meter.total / cores
    print(
        f"CPU s, {label}: {spent}; total {meter.total:.2f}, "
        f"over {cores} cores >= {floor:.2f} s ({floor / bare_seconds:.1f}x bare)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.poller_bench")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error(
            "give --database-url (or DATABASE_URL), e.g. mysql://root@127.0.0.1/bench"
        )
    logging.basicConfig(level=logging.WARNING)

    anvil, rpc_url = start_anvil(extra_args=("--prune-history", "1"))
    valkey = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        sock = Path(tempfile.mkdtemp(prefix="bench-valkey-")) / "valkey.sock"
        valkey = start_valkey(sock)
        redis_url = f"unix://{sock}"
    try:
        return run(rpc_url, args.database_url, redis_url, args.events, anvil.pid)
    finally:
        stop(anvil)
        if valkey is not None:
            stop(valkey)


def run(
    rpc_url: str, database_url: str, redis_url: str, events: int, anvil_pid: int
) -> int:
    deployment = deploy_epns(rpc_url)
    driver = EpnsDriver(rpc_url, deployment)
    emit(driver, events)
    head = driver.block_number()
    (chain,) = parse_chains(
        json.dumps([chain_entry(deployment, rpc_url, max_range=MAX_RANGE)]), "CHAINS"
    )
    empty_tables(database_url)
    redis = connect_redis(redis_url)
    redis.flushdb()

    runner = ChainRunner(chain, redis)
    bare_cpu, pass_cpu = _meter(redis, anvil_pid), _meter(redis, anvil_pid)
    bare_cpu.start()
    bare_logs, bare_seconds = bare_fetch(
        rpc_url, runner.scanner.reader, deployment.deploy_block, head
    )
    bare_cpu.stop()
    pass_cpu.start()
    started = time.perf_counter()
    result = runner.run_pass()
    poller_seconds = time.perf_counter() - started
    pass_cpu.stop()
    runner.close()
    stored = Notification.select().count()

    # The same pass again on an empty database without the Redis hand-off,
    # to show how the time splits between storing and queueing.
    empty_tables(database_url)
    rows_only = ChainRunner(chain, redis, enqueue=lambda _redis, ids: 0)
    started = time.perf_counter()
    rows_only.run_pass()
    rows_seconds = time.perf_counter() - started
    rows_only.close()
    store_seconds = store_alone(runner, deployment.deploy_block, head, database_url)

    ratio = poller_seconds / bare_seconds
    print(
        f"chain: {head - deployment.deploy_block + 1} blocks, {bare_logs} logs "
        f"({stored} notifications stored), database {database.obj.__class__.__name__}"
    )
    print(f"{'':30}{'seconds':>10}{'logs/s':>12}")
    for label, seconds in (
        ("bare eth_getLogs", bare_seconds),
        ("poller full pass", poller_seconds),
        ("  same pass, no Redis hand-off", rows_seconds),
        ("database alone, same INSERTs", store_seconds),
    ):
        print(f"{label:30}{seconds:>10.3f}{bare_logs / seconds:>12.0f}")
    print(
        f"ratio poller/bare: {ratio:.2f}x (goal <= 1.5x); "
        f"poller {bare_logs / poller_seconds:.0f} logs/s (goal >= 5000)"
    )
    print(f"database alone / bare: {store_seconds / bare_seconds:.2f}x")
    _print_cpu("bare fetch", bare_cpu, bare_seconds)
    _print_cpu("full pass", pass_cpu, bare_seconds)
    record(
        "poller",
        logs=bare_logs,
        logs_per_s=bare_logs / poller_seconds,
        bare_s=bare_seconds,
        pass_s=poller_seconds,
        rows_only_s=rows_seconds,
        store_s=store_seconds,
        pass_cpu_s=pass_cpu.total,
        ratio=ratio,
    )
    return 0 if result.outcome == "done" and stored == events else 1


if __name__ == "__main__":
    sys.exit(main())
