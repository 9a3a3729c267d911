"""Start an RQ worker for dispatch: ``python rq_worker.py [--burst] [queues...]``.

The worker does not fork per job (``SimpleWorker``): HTTP/2 connections,
OAuth tokens and APNs provider tokens live in this process and are reused
by every job. It runs the scheduler, which retries with intervals need.
"""

from __future__ import annotations

import argparse

from rq import SimpleWorker

from app.config import load_settings
from app.db import init_database
from app.job_context import ContextJob
from app.jobs.context import configure
from app.logs import configure_logging
from app.metrics_server import serve_metrics
from app.queue import QUEUES, connect_redis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--burst", action="store_true", help="exit when queues are empty"
    )
    parser.add_argument("queues", nargs="*", default=list(QUEUES))
    args = parser.parse_args()

    settings = load_settings()
    configure_logging(settings.is_production, settings.get("LOG_LEVEL") or "INFO")
    init_database(settings.database_url)
    configure(settings)
    serve_metrics(settings)
    redis = connect_redis(settings.redis_url)
    worker = SimpleWorker(args.queues, connection=redis, job_class=ContextJob)
    worker.work(burst=args.burst, with_scheduler=True)


if __name__ == "__main__":
    main()
