"""Redis connection, queue names and the hand-off from poller to dispatch.

Jobs are named by dotted path, so the poller can enqueue without importing
the senders, and job ids are derived from row ids, so enqueuing the same
notification twice is harmless.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

log = logging.getLogger(__name__)

NOTIFICATIONS = "notifications"
PUSHES = "pushes"
QUEUES = (NOTIFICATIONS, PUSHES)

DISPATCH_JOB = "app.jobs.dispatch.dispatch_notification"
DISPATCH_TIMEOUT = 600
FAILED_TTL = 7 * 24 * 3600


def dispatch_retry() -> Retry:
    """Retried only when the payload storage was unreachable or the worker
    died; the job itself decides, and the ledger keeps it idempotent. Every
    path that queues a dispatch job uses it, so none loses a notification
    to one outage or one killed worker."""
    return Retry(max=3, interval=[30, 120, 600])


_LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def connect_redis(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=30, health_check_interval=30)


def notification_job_id(notification_id: int) -> str:
    return f"notification-{notification_id}"


def dispatch_job_spec(notification_id: int) -> dict:
    """Everything RQ is told about a notification's dispatch job.

    Defined once: the poller's bulk hand-off writes the same jobs without
    this function's round trips, and must not drift from it.
    """
    return {
        "func": DISPATCH_JOB,
        "args": (notification_id,),
        "job_id": notification_job_id(notification_id),
        "description": f"dispatch notification {notification_id}",
        "timeout": DISPATCH_TIMEOUT,
        "failure_ttl": FAILED_TTL,
        "retry": dispatch_retry(),
        "meta": {"notification_id": notification_id},
    }


def is_live(redis: Redis, job_id: str) -> bool:
    """Whether the job is queued, running, deferred or scheduled."""
    try:
        return Job.fetch(job_id, connection=redis).get_status() in _LIVE
    except NoSuchJobError:
        return False


def enqueue_notification(redis: Redis, notification_id: int) -> bool:
    """Queue the dispatch job unless one for this notification is live.

    Returns True when a job was queued. A finished or failed job of the
    same id is replaced: the dispatch job itself is idempotent.
    """
    job_id = notification_job_id(notification_id)
    if is_live(redis, job_id):
        log.debug("job %s already live, not queued again", job_id)
        return False

    Queue(NOTIFICATIONS, connection=redis).enqueue_call(
        **dispatch_job_spec(notification_id)
    )
    log.info("queued %s", job_id)
    return True
