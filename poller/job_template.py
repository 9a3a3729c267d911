"""The dispatch job's Redis hash, as RQ writes it, with holes for the id.

Every dispatch job of a batch is the same RQ job but for the notification
id, so the hash is taken apart once: fields that do not depend on the id
are sent as they are, and each field that does becomes the text before and
after the id. Redis fills the holes in (``poller.handoff``), which spares
the poller building, pickling and compressing thousands of jobs a second.

The call data and meta are pickled at protocol 0, where an integer is its
decimal digits, so an id can be spliced in; RQ reads uncompressed data and
any pickle protocol. Fields RQ writes empty (callbacks, start and end
times, worker) are left out: RQ reads a missing field as it reads an empty
one, as it does for the fields it leaves out itself, and writing them was
a quarter of Redis' time in a backfill. All of it is checked against what
RQ itself stores before a template is used, so a change of serializer or
job layout fails loudly instead of queueing jobs a worker cannot run.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from rq import Queue
from rq.job import Job, JobStatus

from app.queue import dispatch_job_spec, notification_job_id

# Two ids whose digits occur nowhere else in a job's hash.
_SAMPLE = 1_234_567_891
_CHECK = 987_654_321


class TemplateError(RuntimeError):
    """The job's hash cannot be built from a template."""


@dataclass(frozen=True)
class Hole:
    """A field whose value is ``head + id + tail``."""

    field: str
    head: bytes
    tail: bytes

    def fill(self, notification_id: int) -> bytes:
        return self.head + str(notification_id).encode() + self.tail


@dataclass(frozen=True)
class JobTemplate:
    constant: dict[str, bytes]
    holes: tuple[Hole, ...]
    job_id: Hole

    def mapping(self, notification_id: int) -> dict[str, bytes]:
        """The whole hash of one job, as Redis will build it."""
        filled = {hole.field: hole.fill(notification_id) for hole in self.holes}
        return {**self.constant, **filled}


def build_template(queue: Queue) -> JobTemplate:
    """The hash of a queued dispatch job, stamped now, taken apart."""
    sample = _queued_job(queue, _SAMPLE)
    check = _queued_job(queue, _CHECK, stamped_like=sample)
    encode = queue.connection.get_encoder().encode
    fields = _spliceable(sample, encode)
    expected = _spliceable(check, encode)

    constant = {k: v for k, v in fields.items() if expected.get(k) == v}
    holes = tuple(
        _hole(name, value, _SAMPLE)
        for name, value in fields.items()
        if name not in constant
    )
    job_id = _hole("id", notification_job_id(_SAMPLE).encode(), _SAMPLE)
    template = JobTemplate(constant, holes, job_id)
    _verify(template, check, expected)
    return template


def _queued_job(
    queue: Queue, notification_id: int, stamped_like: Job | None = None
) -> Job:
    """The job exactly as ``app.queue.enqueue_notification`` builds it."""
    job = queue.create_job(
        **dispatch_job_spec(notification_id), status=JobStatus.QUEUED
    )
    if stamped_like is not None:
        job.created_at = stamped_like.created_at
    job.enqueued_at = job.created_at
    return job


def _spliceable(job: Job, encode: Callable[[object], bytes]) -> dict[str, bytes]:
    """The job's hash with the call and meta pickled at protocol 0 and
    without its empty fields, each value encoded as redis-py sends it."""
    mapping = job.to_dict()
    mapping["data"] = pickle.dumps(
        (job.func_name, job.instance, job.args, job.kwargs), protocol=0
    )
    if "meta" in mapping:
        mapping["meta"] = pickle.dumps(job.meta, protocol=0)
    encoded = {k: encode(v) for k, v in mapping.items()}
    return {k: v for k, v in encoded.items() if v}


def _hole(field: str, value: bytes, notification_id: int) -> Hole:
    parts = value.split(str(notification_id).encode())
    if len(parts) != 2:
        raise TemplateError(f"job field {field!r} does not hold the id exactly once")
    return Hole(field, parts[0], parts[1])


def _verify(template: JobTemplate, job: Job, expected: dict[str, bytes]) -> None:
    """Filled with another id, the template gives that id's hash, and RQ's
    serializer reads its call and meta as those RQ stores itself."""
    notification_id = job.args[0]
    if template.mapping(notification_id) != expected:
        raise TemplateError("a templated job differs from the job RQ builds")
    if template.job_id.fill(notification_id).decode() != job.id:
        raise TemplateError("the job id does not follow the template")

    loads = job.serializer.loads
    own = job.to_dict()
    if loads(expected["data"]) != loads(zlib.decompress(own["data"])):
        raise TemplateError("RQ's serializer reads another call")
    if "meta" in own and loads(expected["meta"]) != loads(own["meta"]):
        raise TemplateError("RQ's serializer reads other meta")

    restored = Job(job.id, connection=job.connection, serializer=job.serializer)
    restored.restore(template.mapping(notification_id))
    if _without_call(restored.to_dict()) != _without_call(own):
        raise TemplateError("RQ reads a templated job as another job")


def _without_call(mapping: dict) -> dict:
    """A job's fields but its call and meta, which pickle differently."""
    return {k: v for k, v in mapping.items() if k not in ("data", "meta")}
