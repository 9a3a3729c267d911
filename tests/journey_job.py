"""A job shaped like dispatch, for following one notification through the logs.

It logs the way dispatch is meant to (ids bound, tokens by suffix), plus
one careless line and one error that carry a full token, which the log
formatters must still shorten.
"""

from __future__ import annotations

import logging

from app.addresses import short
from app.job_context import update_job_meta
from app.logs import bind, notification_ids
from app.models import DeviceToken, Notification

log = logging.getLogger(__name__)


def deliver(notification_id: int) -> dict:
    row = Notification.get_by_id(notification_id)
    tokens = list(DeviceToken.select().where(DeviceToken.wallet == row.recipient))

    with bind(**notification_ids(row)):
        log.info("audience resolved: %s devices", len(tokens))
        for token in tokens:
            with bind(token=short(token.token)):
                log.info("push delivered")
        log.info("careless line naming %s", tokens[0].token)
        try:
            raise RuntimeError(f"provider refused {tokens[0].token}")
        except RuntimeError:
            log.exception("error text carries the token")

    counts = {"sent": len(tokens), "failed": 0, "removed": 0}
    update_job_meta(channel=row.channel, audience="targeted", **counts)
    return counts
