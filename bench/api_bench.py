"""Registrations per second: the Token API beside a bare Flask upsert.

``python -m bench.api_bench`` starts the API and the bare app under gunicorn on the same
MariaDB database (``BENCH_DATABASE_URL``, default the ``test_api`` test
database) and a Redis for the rate limiter (``BENCH_REDIS_URL``, default an
embedded Valkey), signs in one wallet per client thread, then drives all
with the same keep-alive client in alternating rounds, so drift on a shared
machine hits each alike. Every request registers a new token. The rate
limiter stays on, with limits too high to trip. Prints registrations/s of
each and the ratios (the bare endpoints are described in bench.bare_app).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from app.config import ROOT
from app.db import init_database
from app.models import ApiSession, DeviceToken, SignInNonce
from bench.databases import create_database
from bench.results import record
from devstack.services import free_port, start_valkey, stop
from devstack.signin import sign_in
from migrations import upgrade

DEFAULT_DB = "mysql://root@127.0.0.1:3306/test_api"
NAMES = {
    "sql": "bare Flask, one INSERT ... ON DUPLICATE KEY UPDATE",
    "bare": "bare Flask, the same upsert (app.tokens.register)",
    "ours": "Token API: session, limits, validation, error contract",
}
HIGH = "100000000/minute"


@dataclass
class Round:
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def main() -> int:
    args = _arguments()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    _reset(database_url)

    with ExitStack() as stack:
        redis_url = os.environ.get("BENCH_REDIS_URL") or _valkey(stack)
        ours = _gunicorn(stack, "wsgi:app", database_url, redis_url, args)
        bare = _gunicorn(stack, "bench.bare_app:app", database_url, redis_url, args)
        tokens = [
            sign_in(ours, Account.create().key.to_0x_hex()) for _ in range(args.clients)
        ]
        results = _drive(ours, bare, tokens, args)

    _report(results, args)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per app")
    parser.add_argument("--seconds", type=float, default=6.0, help="per round")
    return parser.parse_args()


def _reset(database_url: str) -> None:
    create_database(database_url)
    db = init_database(database_url)
    db.connect(reuse_if_open=True)
    upgrade(db)
    for model in (DeviceToken, ApiSession, SignInNonce):
        model.delete().execute()
    db.close()


def _valkey(stack: ExitStack) -> str:
    sock = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "valkey.sock"
    proc = start_valkey(sock)
    stack.callback(stop, proc)
    return f"unix://{sock}"


def _gunicorn(
    stack: ExitStack,
    target: str,
    database_url: str,
    redis_url: str,
    args: argparse.Namespace,
) -> str:
    """Start gunicorn on a free port and return its base URL once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SIWE_DOMAIN": f"127.0.0.1:{port}",
        "SIWE_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}",
        "SIWE_CHAIN_IDS": "31337",
        "RATE_LIMIT_SIGNIN_IP": HIGH,
        "RATE_LIMIT_SIGNIN_WALLET": HIGH,
        "RATE_LIMIT_WRITE_IP": HIGH,
        "RATE_LIMIT_WRITE_WALLET": HIGH,
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--no-control-socket",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
        target,
    ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    stack.callback(stop, proc)
    _wait_healthy(port, proc)
    return f"http://127.0.0.1:{port}"


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def _drive(
    ours: str, bare: str, tokens: list[str], args: argparse.Namespace
) -> dict[str, list[Round]]:
    """Alternate rounds of the two apps; one warm-up round each first."""
    counter = iter(range(10**9))
    lock = threading.Lock()

    def next_token() -> str:
        with lock:
            return f"{next(counter):064x}"

    results: dict[str, list[Round]] = {name: [] for name in NAMES}
    for index in range(args.rounds + 1):
        for name, base, path in (
            ("sql", bare, "/register-sql"),
            ("bare", bare, "/register"),
            ("ours", ours, "/apis/v1/pushtokens/register"),
        ):
            done = _round(base, path, tokens, args.seconds, next_token)
            if index > 0:
                results[name].append(done)
    return results


def _round(base: str, path: str, tokens: list[str], seconds: float, next_token):
    """Every client thread registers new tokens until the round ends."""
    host, port = base.removeprefix("http://").split(":")
    total = Round()
    lock = threading.Lock()
    wallets = [_wallet_of(base, token) for token in tokens] if "apis" in path else None
    start = time.monotonic()
    deadline = start + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Content-Type": "application/json"}
        if wallets:
            headers["Authorization"] = f"Bearer {tokens[i]}"
        wallet = wallets[i] if wallets else "0x" + f"{i:040x}"
        ok = failed = 0
        while time.monotonic() < deadline:
            body = {"wallet": wallet, "device_token": next_token(), "platform": "ios"}
            conn.request("POST", path, json.dumps(body), headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status in (200, 201):
                ok += 1
            else:
                failed += 1
        conn.close()
        with lock:
            total.ok += ok
            total.failed += failed

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total.seconds = time.monotonic() - start
    return total


def _wallet_of(base: str, token: str) -> str:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(
        "GET", "/apis/v1/auth/session", headers={"Authorization": f"Bearer {token}"}
    )
    return json.loads(conn.getresponse().read())["wallet"]


def _report(results: dict[str, list[Round]], args: argparse.Namespace) -> None:
    def rate(name: str) -> float:
        rounds = results[name]
        return sum(r.ok for r in rounds) / sum(r.seconds for r in rounds)

    failed = {name: sum(r.failed for r in rounds) for name, rounds in results.items()}
    print(
        f"gunicorn {args.workers} workers x {args.threads} threads, "
        f"{args.clients} clients, {args.rounds} rounds x {args.seconds:g} s each"
    )
    for name, what in NAMES.items():
        per_round = ", ".join(f"{r.rate:.0f}" for r in results[name])
        print(
            f"{name:>4}: {rate(name):7.1f} registrations/s  "
            f"({what}; rounds {per_round})"
        )
    print(f"ratio: {rate('ours') / rate('bare'):.2f} of the bare endpoint (goal 0.70)")
    print(f"       {rate('ours') / rate('sql'):.2f} of the one-statement upsert")
    print("failed requests: " + ", ".join(f"{n} {c}" for n, c in failed.items()))
    record(
        "api",
        ours=rate("ours"),
        bare=rate("bare"),
        ratio=rate("ours") / rate("bare"),
        failed=sum(failed.values()),
    )


if __name__ == "__main__":
    sys.exit(main())
