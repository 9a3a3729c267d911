"""One request to a push service, bounded by a deadline.

Both senders need the same guard around the transport: a request that
outlives its deadline marks its connection as possibly silent, and every
way the transport can fail (reset stream, lost connection, a GOAWAY that
left the request unprocessed, a protocol or socket error) becomes a
retryable outcome instead of an exception that would end the whole batch.
"""

from __future__ import annotations

import asyncio
import logging

import h2.exceptions

from app.addresses import short
from app.jobs.http2 import ConnectionLost, Http2Pool, Response, StreamReset, Unprocessed
from app.jobs.outcomes import Outcome, transport_failure

log = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (
    StreamReset,
    ConnectionLost,
    Unprocessed,
    h2.exceptions.H2Error,
    OSError,
)


async def post_within(
    pool: Http2Pool,
    timeout: float,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    token: str,
) -> Response | Outcome:
    """The response, or the transport failure that stands for it."""
    try:
        async with asyncio.timeout(timeout):
            return await pool.post(path, headers, body)
    except TimeoutError:
        pool.close_silent(timeout)
        return transport_failure("timeout")
    except _TRANSPORT_ERRORS as exc:
        log.debug("transport error for %s: %r", short(token), exc)
        return transport_failure(type(exc).__name__)
