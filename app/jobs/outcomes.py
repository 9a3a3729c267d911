"""What each answer of FCM and APNs means for a delivery.

Classified by the service's status and error code as documented, never by
message text. Only answers that prove a token dead delete it; only
transient answers are retried.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class Kind(enum.StrEnum):
    DELIVERED = "delivered"
    DEAD = "dead"  # delete the token
    FAILED = "failed"  # keep the token, give up on this message
    RETRY = "retry"  # transient: try again later, bounded
    AUTH = "auth"  # our credential was refused: renew once, then failed


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    reason: str = ""
    retry_after: float | None = None


DELIVERED = Outcome(Kind.DELIVERED)

# https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
_FCM_CODES = {
    "UNREGISTERED": Kind.DEAD,
    "SENDER_ID_MISMATCH": Kind.DEAD,
    "QUOTA_EXCEEDED": Kind.RETRY,
    "UNAVAILABLE": Kind.RETRY,
    "INTERNAL": Kind.RETRY,
    "THIRD_PARTY_AUTH_ERROR": Kind.FAILED,
    "INVALID_ARGUMENT": Kind.FAILED,
}
_FCM_TOKEN_FIELDS = ("message.token", "message.registration_token")


def classify_fcm(status: int, body: object, retry_after: str | None) -> Outcome:
    """An FCM v1 ``messages:send`` answer."""
    if status == 200:
        return DELIVERED
    error = body.get("error", {}) if isinstance(body, dict) else {}
    error = error if isinstance(error, dict) else {}
    details = error.get("details") or []
    details = [d for d in details if isinstance(d, dict)]
    code = next(
        (_str(d.get("errorCode")) for d in details if _str(d.get("errorCode"))), None
    )
    code = code or _str(error.get("status")) or f"HTTP_{status}"
    wait = _seconds(retry_after)

    if code == "INVALID_ARGUMENT" and _about_token(details):
        return Outcome(Kind.DEAD, "INVALID_ARGUMENT token")
    if code in _FCM_CODES:
        return Outcome(_FCM_CODES[code], code, wait)
    if status in (401, 403) or code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return Outcome(Kind.AUTH, code)
    if status == 429 or status >= 500:
        return Outcome(Kind.RETRY, code, wait)
    return Outcome(Kind.FAILED, code)


def _about_token(details: list[dict]) -> bool:
    """A google.rpc.BadRequest naming the token field: the token is malformed."""
    for detail in details:
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and violation.get("field") in (
                _FCM_TOKEN_FIELDS
            ):
                return True
    return False


# https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
_APNS_DEAD = {
    "Unregistered",
    "BadDeviceToken",
    "DeviceTokenNotForTopic",
    "ExpiredToken",
}
_APNS_AUTH = {
    "ExpiredProviderToken",
    "InvalidProviderToken",
    "MissingProviderToken",
    "BadCertificate",
    "BadCertificateEnvironment",
    "Forbidden",
}


def classify_apns(status: int, reason: str | None, retry_after: str | None = None):
    """An APNs answer: HTTP status plus the ``reason`` of its JSON body."""
    reason = _str(reason) or f"HTTP_{status}"
    if status == 200:
        return DELIVERED
    if status == 410 or reason in _APNS_DEAD:
        return Outcome(Kind.DEAD, reason)
    if status == 403 and reason in _APNS_AUTH:
        return Outcome(Kind.AUTH, reason)
    if status in (429, 500, 503):
        return Outcome(Kind.RETRY, reason, _seconds(retry_after))
    return Outcome(Kind.FAILED, reason)


def transport_failure(what: str) -> Outcome:
    """Timeouts, resets, GOAWAY, refused connections: the request may be lost."""
    return Outcome(Kind.RETRY, what[:120])


def _str(value: object) -> str | None:
    """A code or reason as the services document them: text, else nothing."""
    return value if isinstance(value, str) and value else None


def _seconds(value: str | None) -> float | None:
    """Retry-After in seconds; an HTTP date, "inf" or "nan" counts as absent."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None
