"""Hand notifications to the dispatch queue after their rows are committed.

The same job, id and options as ``app.queue.enqueue_notification``, but in
batches: a backfill commits thousands of notifications a second and one
Redis round trip each would dominate it. A notification whose job is
queued or running is left alone, so re-enqueuing after a restart (every
notification still pending) never duplicates a live job; a finished job's
notification is pending only if the job did not complete it, and dispatch
is idempotent, so queueing it again is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from app.queue import (
    DISPATCH_JOB,
    DISPATCH_TIMEOUT,
    FAILED_TTL,
    NOTIFICATIONS,
    notification_job_id,
)

log = logging.getLogger(__name__)

BATCH = 1000
_LIVE = {
    s.value
    for s in (
        JobStatus.QUEUED,
        JobStatus.STARTED,
        JobStatus.DEFERRED,
        JobStatus.SCHEDULED,
    )
}


def enqueue_notifications(redis: Redis, notification_ids: Sequence[int]) -> int:
    """Queue a dispatch job for each id without a live one; return how many."""
    queued = 0
    queue = Queue(NOTIFICATIONS, connection=redis)
    for start in range(0, len(notification_ids), BATCH):
        queued += _enqueue_batch(redis, queue, notification_ids[start : start + BATCH])
    return queued


def _enqueue_batch(redis: Redis, queue: Queue, ids: Sequence[int]) -> int:
    job_ids = [notification_job_id(i) for i in ids]
    with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hget(Job.key_for(job_id), "status")
        statuses = pipe.execute()

    todo = [
        Queue.prepare_data(
            DISPATCH_JOB,
            (notification_id,),
            job_id=job_id,
            description=f"dispatch notification {notification_id}",
            timeout=DISPATCH_TIMEOUT,
            failure_ttl=FAILED_TTL,
            meta={"notification_id": notification_id},
        )
        for notification_id, job_id, status in zip(ids, job_ids, statuses, strict=True)
        if (status.decode() if status else None) not in _LIVE
    ]
    if todo:
        with redis.pipeline() as pipe:
            queue.enqueue_many(todo, pipeline=pipe)
            pipe.execute()
        log.debug("queued %d dispatch jobs (first %s)", len(todo), todo[0].job_id)
    return len(todo)
