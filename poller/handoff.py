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
import queue as queues
import threading
import zlib
from collections.abc import Callable, Sequence

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from app.queue import (
    DISPATCH_JOB,
    DISPATCH_TIMEOUT,
    FAILED_TTL,
    NOTIFICATIONS,
    dispatch_retry,
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


class BackgroundHandOff:
    """Queues committed notifications from a thread, so Redis round trips
    overlap with reading and storing the next range. Only ids already
    committed are submitted; ``close`` waits for all of them and re-raises
    the first failure (the ids stay pending and are queued next run)."""

    def __init__(
        self, redis: Redis, enqueue: Callable[[Redis, Sequence[int]], int]
    ) -> None:
        self.redis = redis
        self.enqueue = enqueue
        self.queued = 0
        self._todo: queues.Queue = queues.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="handoff", daemon=True)
        self._thread.start()

    def submit(self, ids: Sequence[int]) -> None:
        if self._error is not None:
            raise self._error
        if ids:
            self._todo.put(list(ids))

    def close(self) -> int:
        self._todo.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.queued

    def _run(self) -> None:
        while (ids := self._todo.get()) is not None:
            if self._error is not None:
                continue
            try:
                self.queued += self.enqueue(self.redis, ids)
            except Exception as exc:  # re-raised by close() in the runner
                log.error("hand-off of %d notifications failed: %s", len(ids), exc)
                self._error = exc


def enqueue_notifications(redis: Redis, notification_ids: Sequence[int]) -> int:
    """Queue a dispatch job for each id without a live one; return how many."""
    queued = 0
    queue = Queue(NOTIFICATIONS, connection=redis)
    for start in range(0, len(notification_ids), BATCH):
        queued += _enqueue_batch(redis, queue, notification_ids[start : start + BATCH])
    return queued


# Check and enqueue as one server-side step per job: two runs handing off
# the same notification (a killed run's last pipeline may still be executing
# when its successor starts) cannot both queue it, and a job's hash is never
# written without its queue entry.
_ENQUEUE_IF_IDLE = """
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' or status == 'started' or status == 'deferred'
   or status == 'scheduled' then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
"""


def _enqueue_batch(redis: Redis, queue: Queue, ids: Sequence[int]) -> int:
    job_ids = [notification_job_id(i) for i in ids]
    with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hget(Job.key_for(job_id), "status")
        statuses = pipe.execute()
    todo = [
        (notification_id, job_id)
        for notification_id, job_id, status in zip(ids, job_ids, statuses, strict=True)
        if (status.decode() if status else None) not in _LIVE
    ]
    if not todo:
        return 0

    script = redis.register_script(_ENQUEUE_IF_IDLE)
    template = _template(queue, todo[0][0])
    with redis.pipeline(transaction=False) as pipe:
        pipe.sadd(Queue.redis_queues_keys, queue.key)
        for notification_id, job_id in todo:
            fields = _job_hash(template, notification_id)
            flat = [item for pair in fields.items() for item in pair]
            script(
                keys=[Job.key_for(job_id), queue.key], args=[job_id, *flat], client=pipe
            )
        queued = sum(pipe.execute()[1:])
    log.debug("queued %d dispatch jobs (first %s)", queued, todo[0][1])
    return queued


def _job(queue: Queue, notification_id: int) -> Job:
    """The job exactly as ``app.queue.enqueue_notification`` builds it."""
    return queue.create_job(
        DISPATCH_JOB,
        args=(notification_id,),
        job_id=notification_job_id(notification_id),
        description=f"dispatch notification {notification_id}",
        timeout=DISPATCH_TIMEOUT,
        failure_ttl=FAILED_TTL,
        meta={"notification_id": notification_id},
        status=JobStatus.QUEUED,
        retry=dispatch_retry(),
    )


def _template(queue: Queue, notification_id: int) -> dict:
    """RQ's own hash of one queued job, to copy for the rest of a batch.

    Building and saving an RQ Job costs ~0.2 ms, which at backfill rates
    costs more than reading and storing the logs; only the fields that
    depend on the notification differ between the jobs of a batch, and
    they are serialised with the job's own serializer.
    """
    job = _job(queue, notification_id)
    job.enqueued_at = job.created_at
    mapping = job.to_dict()
    mapping["_serializer"] = job.serializer
    return mapping


def _job_hash(template: dict, notification_id: int) -> dict:
    serializer = template["_serializer"]
    mapping = {k: v for k, v in template.items() if k != "_serializer"}
    mapping["data"] = zlib.compress(
        serializer.dumps((DISPATCH_JOB, None, (notification_id,), {}))
    )
    mapping["description"] = f"dispatch notification {notification_id}"
    mapping["meta"] = serializer.dumps({"notification_id": notification_id})
    return mapping
