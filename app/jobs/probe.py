"""One push to one device, outside any notification: the operator's probe.

It goes through the same senders, credentials and answer rules as real
dispatch, so a token a service proves dead is removed here too.
"""

from __future__ import annotations

import json
import logging

from app.addresses import short
from app.jobs import runtime
from app.jobs.context import current
from app.jobs.ledger import remove_tokens
from app.jobs.messages import (
    ChannelInfo,
    FcmBody,
    apns_body,
    apns_payload,
    fcm_message,
)
from app.jobs.outcomes import Kind, Outcome
from app.jobs.payload import parse_payload
from app.jobs.runtime import Disabled
from app.jobs.sending import service_of
from app.models import DeviceToken

log = logging.getLogger(__name__)

TITLE = "Test push"
BODY = "Sent by an operator of your EPNS push server."
COLLAPSE_ID = "epns-test"
SERVER = ChannelInfo(address="", name="EPNS push server")


def send_test_push(device: DeviceToken) -> str:
    """Send the probe to ``device`` and say what the service answered."""
    doc = {"notification": {"title": TITLE, "body": BODY}, "data": {"type": "3"}}
    payload = parse_payload(json.dumps(doc).encode(), None)
    service = service_of(device.platform)
    state = current()

    try:
        outcome = runtime.run(
            _send(state.senders, device, service, payload),
            timeout=state.config.send_timeout + 5,
        )
    except Disabled as exc:
        return f"not sent: {service} of app {device.app_id} is disabled ({exc})"

    log.info(
        "test push to %s (%s): %s %s",
        short(device.token),
        service,
        outcome.kind,
        outcome.reason,
    )
    if outcome.kind == Kind.DEAD:
        remove_tokens({device.token: outcome.reason}, None)
        return f"dead token, removed: {outcome.reason}"
    return str(outcome.kind) + (f": {outcome.reason}" if outcome.reason else "")


async def _send(senders, device: DeviceToken, service: str, payload) -> Outcome:
    sender = senders.get(device.app_id, service)
    if service == "apns":
        body = apns_body(apns_payload(payload, SERVER, 0))
        return await sender.send(device.token, body, COLLAPSE_ID)
    return await sender.send(device.token, FcmBody.of(fcm_message(payload, SERVER, 0)))
