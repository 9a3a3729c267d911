"""Send a batch of ledger rows and turn every answer into its action.

Rows go out in windows of many concurrent requests; each window's outcomes
are written before the next starts, so a crash repeats at most one window
(and those repeats carry the notification's collapse id). Transient
answers are retried with exponential backoff and jitter, honouring
Retry-After, until ``max_attempts``; a wait too long to sit through is
handed back so the job can be rescheduled instead.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app import metrics
from app.config import DispatchConfig
from app.jobs import ledger, runtime
from app.jobs.fcm import CredentialError
from app.jobs.ledger import Row
from app.jobs.messages import FcmBody
from app.jobs.outcomes import Kind, Outcome
from app.jobs.runtime import Disabled, Senders

log = logging.getLogger(__name__)

WINDOW = 1000
MAX_INLINE_WAIT = 30.0


@dataclass(frozen=True)
class Messages:
    """A notification's request bodies, serialised once for all its devices."""

    fcm: FcmBody
    apns: bytes
    collapse_id: str


@dataclass
class Tally:
    sent: int = 0
    failed: int = 0
    removed: int = 0
    retried: int = 0
    defer_seconds: float | None = None

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.kind == Kind.DELIVERED:
                self.sent += 1
            elif outcome.kind == Kind.DEAD:
                self.removed += 1
            elif outcome.kind == Kind.RETRY:
                self.retried += 1
            else:
                self.failed += 1


def service_of(platform: str) -> str:
    return "apns" if platform == "ios" else "fcm"


def send_rows(
    notification_id: int,
    rows: Sequence[Row],
    messages: Messages,
    senders: Senders,
    config: DispatchConfig,
    wanted: Callable[[], bool] = lambda: True,
) -> Tally:
    """Send until every row is final or only long waits remain.

    ``wanted`` is asked before each new window: once it says no (the
    notification was cancelled by a reorg meanwhile), the rows not yet sent
    stay open and nothing more goes out.
    """
    tally = Tally()
    renewed: set[tuple[str, str]] = set()
    pending = list(rows)
    while pending:
        retry: list[tuple[Row, Outcome]] = []
        windows = _windows(pending, messages, senders, config, renewed, wanted)
        for results in windows:
            results = [_final(row, outcome, config) for row, outcome in results]
            ledger.record(notification_id, results)
            tally.add([outcome for _, outcome in results])
            _count(results)
            retry.extend(r for r in results if r[1].kind == Kind.RETRY)
        if not retry or not wanted():
            break

        wait = backoff(retry, config)
        log.info(
            "notification %s: %d transient failures, retrying in %.2fs",
            notification_id,
            len(retry),
            wait,
        )
        if wait > MAX_INLINE_WAIT:
            tally.defer_seconds = wait
            break
        time.sleep(wait)
        pending = [row for row, _ in retry]
    return tally


def backoff(retry: Sequence[tuple[Row, Outcome]], config: DispatchConfig) -> float:
    """Exponential in the attempt count, with jitter, never before Retry-After."""
    attempt = max(row.attempts for row, _ in retry)
    ceiling = min(config.retry_base * 2 ** (attempt - 1), config.retry_cap)
    jittered = random.uniform(ceiling / 2, ceiling)
    asked = max((o.retry_after or 0.0 for _, o in retry), default=0.0)
    return max(jittered, asked)


def _final(row: Row, outcome: Outcome, config: DispatchConfig):
    if outcome.kind == Kind.RETRY and row.attempts >= config.max_attempts:
        return row, Outcome(Kind.FAILED, f"retries exhausted: {outcome.reason}")
    return row, outcome


def _windows(pending, messages, senders, config, renewed, wanted):
    """Yield each window's results while the next window is already sending.

    Writing one window's outcomes overlaps the network time of the next, so
    at most two windows are unrecorded when a worker dies.
    """
    timeout = config.send_timeout * 3 + 30
    in_flight = None
    for start in range(0, len(pending), WINDOW):
        if not wanted():
            log.info(
                "notification no longer to be sent: %d rows left open",
                len(pending) - start,
            )
            break
        window = pending[start : start + WINDOW]
        ledger.start_attempt(window)
        future = runtime.submit(_send_all(window, messages, senders, renewed))
        if in_flight is not None:
            yield runtime.wait(in_flight, timeout)
        in_flight = future
    if in_flight is not None:
        yield runtime.wait(in_flight, timeout)


async def _send_all(
    rows: Sequence[Row],
    messages: Messages,
    senders: Senders,
    renewed: set[tuple[str, str]],
) -> list[tuple[Row, Outcome]]:
    outcomes = await asyncio.gather(*(_send_one(r, messages, senders) for r in rows))
    results = list(zip(rows, outcomes, strict=True))
    refused = {
        (row.app_id, service_of(row.platform))
        for row, outcome in results
        if outcome.kind == Kind.AUTH
    }
    for key in refused:
        results = await _after_auth_refusal(key, results, messages, senders, renewed)
    return results


async def _after_auth_refusal(key, results, messages, senders, renewed):
    """Renew the credential once and resend; refused again means disabled."""
    app_id, service = key
    mine = [
        i
        for i, (row, outcome) in enumerate(results)
        if outcome.kind == Kind.AUTH and (row.app_id, service_of(row.platform)) == key
    ]
    if key not in renewed:
        renewed.add(key)
        try:
            await senders.get(app_id, service).renew_auth()
            log.warning("app %s %s: credential refused, renewed once", app_id, service)
            again = await asyncio.gather(
                *(_send_one(results[i][0], messages, senders) for i in mine)
            )
            for i, outcome in zip(mine, again, strict=True):
                results[i] = (results[i][0], outcome)
        except (CredentialError, Disabled) as exc:
            senders.disable(app_id, service, str(exc))

    still = [i for i in mine if results[i][1].kind == Kind.AUTH]
    if still:
        reason = results[still[0]][1].reason
        senders.disable(app_id, service, f"refused after renewal: {reason}")
        for i in still:
            results[i] = (results[i][0], Outcome(Kind.FAILED, f"auth: {reason}"))
    return results


async def _send_one(row: Row, messages: Messages, senders: Senders) -> Outcome:
    service = service_of(row.platform)
    try:
        sender = senders.get(row.app_id, service)
    except Disabled as exc:
        return Outcome(Kind.FAILED, f"credential disabled: {exc}"[:120])
    if service == "apns":
        return await sender.send(row.token, messages.apns, messages.collapse_id)
    return await sender.send(row.token, messages.fcm)


def _count(results: Sequence[tuple[Row, Outcome]]) -> None:
    counts = Counter((service_of(r.platform), o.kind.value) for r, o in results)
    for (service, kind), n in counts.items():
        metrics.PUSHES.labels(platform=service, outcome=kind).inc(n)
    for _, outcome in results:
        if outcome.kind == Kind.DEAD:
            metrics.TOKENS_REMOVED.labels(reason=outcome.reason).inc()
