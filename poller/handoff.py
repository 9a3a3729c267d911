"""Hand notifications to the dispatch queue after their rows are committed.

The same job, id and options as ``app.queue.enqueue_notification``, but in
batches: a backfill commits thousands of notifications a second, and one
Redis round trip, or one RQ job built and pickled in Python, each would
dominate it. One script call per batch writes every job of the batch from
a template (``poller.job_template``). A notification whose job is
queued or running is left alone, so re-enqueuing after a restart (every
notification still pending) never duplicates a live job; a finished job's
notification is pending only if the job did not complete it, and dispatch
is idempotent, so queueing it again is harmless.
"""

from __future__ import annotations

import logging
import queue as queues
import threading
from collections.abc import Callable, Sequence

from redis import Redis
from rq import Queue
from rq.job import Job

from app.db import database
from app.queue import NOTIFICATIONS, notification_job_id
from poller.job_template import JobTemplate, build_template
from poller.store import pending_ids

log = logging.getLogger(__name__)

BATCH = 1000


class BackgroundHandOff:
    """Queues the notifications of committed blocks from a thread, so
    reading their ids back and the Redis round trips overlap with reading
    and storing the next range. Only committed blocks are submitted;
    ``close`` waits for all of them and re-raises the first failure (the
    notifications stay pending and are queued next run)."""

    def __init__(
        self,
        redis: Redis,
        enqueue: Callable[[Redis, Sequence[int]], int],
        chain_id: int,
    ) -> None:
        self.redis = redis
        self.enqueue = enqueue
        self.chain_id = chain_id
        self.queued = 0
        self._todo: queues.Queue = queues.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="handoff", daemon=True)
        self._thread.start()

    def submit(self, first: int, last: int) -> None:
        """Queue the pending notifications of blocks ``first``-``last``."""
        if self._error is not None:
            raise self._error
        self._todo.put((first, last))

    def close(self) -> int:
        self._todo.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.queued

    def _run(self) -> None:
        with database.connection_context():  # this thread's own connection
            while (blocks := self._todo.get()) is not None:
                if self._error is None:
                    self._hand_off(*blocks)

    def _hand_off(self, first: int, last: int) -> None:
        try:
            ids = pending_ids(self.chain_id, first, last)
            self.queued += self.enqueue(self.redis, ids)
        except Exception as exc:  # re-raised by close() in the runner
            log.error("hand-off of blocks %d-%d failed: %s", first, last, exc)
            self._error = exc


def enqueue_notifications(redis: Redis, notification_ids: Sequence[int]) -> int:
    """Queue a dispatch job for each id without a live one; return how many."""
    if not notification_ids:
        return 0
    queue = Queue(NOTIFICATIONS, connection=redis)
    template = build_template(queue)
    script = redis.register_script(_ENQUEUE_IDLE)
    with redis.pipeline(transaction=False) as pipe:
        pipe.sadd(Queue.redis_queues_keys, queue.key)
        for start in range(0, len(notification_ids), BATCH):
            ids = notification_ids[start : start + BATCH]
            keys = [queue.key, *(Job.key_for(notification_job_id(i)) for i in ids)]
            args = [*_template_args(template), *(str(int(i)) for i in ids)]
            script(keys=keys, args=args, client=pipe)
        queued = sum(pipe.execute()[1:])
    log.debug("queued %d dispatch jobs of %d", queued, len(notification_ids))
    return queued


def _template_args(template: JobTemplate) -> list[bytes | str | int]:
    """The template as the script reads it: constant fields, holes, job id."""
    constant = [item for pair in template.constant.items() for item in pair]
    holes = [
        part for hole in template.holes for part in (hole.field, hole.head, hole.tail)
    ]
    return [
        len(template.constant),
        *constant,
        len(template.holes),
        *holes,
        template.job_id.head,
        template.job_id.tail,
    ]


# One server-side step per batch, checking and writing each job: two runs
# handing off the same notification (a killed run's last pipeline may still
# be executing when its successor starts) cannot both queue it, and a job's
# hash is never written without its queue entry. KEYS: the queue, then one
# job hash per id; ARGV: the template (see _template_args), then the ids.
_ENQUEUE_IDLE = """
local at = 1
local constant = {}
for i = 1, 2 * tonumber(ARGV[at]) do constant[i] = ARGV[at + i] end
at = at + #constant + 1
local holes = {}
for i = 1, tonumber(ARGV[at]) do
  local base = at + 3 * (i - 1)
  holes[i] = {ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]}
end
at = at + 3 * #holes + 1
local id_head, id_tail = ARGV[at], ARGV[at + 1]
at = at + 1

local queued = {}
for k = 2, #KEYS do
  local id = ARGV[at + k - 1]
  local status = redis.call('HGET', KEYS[k], 'status')
  if status ~= 'queued' and status ~= 'started' and status ~= 'deferred'
     and status ~= 'scheduled' then
    local fields = {unpack(constant)}
    for _, hole in ipairs(holes) do
      fields[#fields + 1] = hole[1]
      fields[#fields + 1] = hole[2] .. id .. hole[3]
    end
    redis.call('HSET', KEYS[k], unpack(fields))
    queued[#queued + 1] = id_head .. id .. id_tail
  end
end
if #queued > 0 then
  redis.call('RPUSH', KEYS[1], unpack(queued))
end
return #queued
"""
