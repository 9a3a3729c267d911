"""What every RQ job carries: its ids on each log line, its run time, its meta.

Workers are started with ``job_class=ContextJob``. The job then binds its
own id, and the identifiers its enqueuer put in ``meta``, to every line it
logs, so an operator can go from a line to the job in the dashboard and
back. ``update_job_meta`` lets a running job record its progress (channel,
audience, sent, failed, removed) where the dashboard shows it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rq import get_current_job
from rq.job import Job

from app.logs import bind
from app.metrics import JOB_DURATION

log = logging.getLogger(__name__)

# Identifiers copied from job.meta onto every log line of the job.
META_IDS = ("notification_id", "chain", "tx_hash", "log_index", "channel")


class ContextJob(Job):
    def perform(self) -> Any:
        fields = {key: self.meta[key] for key in META_IDS if key in self.meta}
        name = (self.func_name or "unknown").rsplit(".", 1)[-1]

        started = time.perf_counter()
        with bind(job_id=self.id, **fields):
            try:
                return super().perform()
            finally:
                JOB_DURATION.labels(job=name).observe(time.perf_counter() - started)


def update_job_meta(**fields: object) -> None:
    """Merge ``fields`` into the running job's meta; no-op outside a job."""
    job = get_current_job()
    if job is None:
        return
    job.meta.update(fields)
    job.save_meta()
