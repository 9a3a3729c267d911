"""``python -m poller [--follow] [--interval SECONDS] [--chain ID]``.

Exit status: 0 when every chain finished its pass (or another run holds a
chain's lock, or a node is behind and the pass stopped early: cron will be
back); 1 when a chain failed (a range refused past the bounded retries, a
reorg deeper than we remember, the database or Redis unreachable); 2 for
a configuration or usage error. With ``--follow`` it polls until SIGTERM or
SIGINT and then exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

import peewee

from app.config import ConfigError, Settings, load_settings
from app.db import init_database
from app.logs import configure_logging
from app.metrics_server import serve_metrics
from app.queue import connect_redis
from poller.rpc import RpcPolicy
from poller.runner import ChainResult, ChainRunner

log = logging.getLogger("poller")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m poller", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--follow", action="store_true", help="keep polling")
    parser.add_argument(
        "--interval", type=float, default=15.0, help="seconds between passes"
    )
    parser.add_argument("--chain", type=int, help="only this chain id")
    return parser.parse_args(argv)


def rpc_policy(settings: Settings) -> RpcPolicy:
    defaults = RpcPolicy()
    return RpcPolicy(
        timeout=settings.number("POLLER_RPC_TIMEOUT", defaults.timeout),
        attempts=int(settings.number("POLLER_RPC_ATTEMPTS", defaults.attempts)),
        backoff_base=settings.number("POLLER_BACKOFF_BASE", defaults.backoff_base),
        backoff_cap=settings.number("POLLER_BACKOFF_CAP", defaults.backoff_cap),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.is_production, settings.get("LOG_LEVEL") or "INFO")
        chains = settings.chains()
        if args.chain is not None:
            chains = [c for c in chains if c.chain_id == args.chain]
            if not chains:
                raise ConfigError(f"--chain {args.chain}: no such chain configured")
        policy = rpc_policy(settings)
        lock_ttl = settings.number("POLLER_LOCK_TTL", 60.0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    try:
        init_database(settings.database_url).connect(reuse_if_open=True)
    except peewee.OperationalError as exc:
        log.error("database unreachable: %s", exc)
        return EXIT_FAILED
    serve_metrics(settings)
    redis = connect_redis(settings.redis_url)
    runners = [ChainRunner(c, redis, policy, lock_ttl) for c in chains]
    try:
        if not args.follow:
            return _exit_status(_one_pass(runners))
        return _follow(runners, args.interval)
    finally:
        for runner in runners:
            runner.close()


def _one_pass(runners: list[ChainRunner]) -> list[ChainResult]:
    return [runner.run_pass() for runner in runners]


def _exit_status(results: list[ChainResult]) -> int:
    failed = [r for r in results if r.failed]
    for result in failed:
        log.error("%s", result.message)
    return EXIT_FAILED if failed else EXIT_OK


def _follow(runners: list[ChainRunner], interval: float) -> int:
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping after this pass", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stop.is_set():
        _exit_status(_one_pass(runners))
        stop.wait(interval)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
