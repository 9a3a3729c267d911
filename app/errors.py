"""The exceptions services raise, each with a stable machine code.

Services never build HTTP answers. They raise one of these; the API layer
(``app.api.errors``) turns it into the JSON error contract. ``CODES`` is
the catalogue clients can rely on: a code, once published, keeps its meaning
and its HTTP status. The classes also inherit the matching built-in
(``ValueError``, ``PermissionError``, ...) so callers outside the API can
catch either.
"""

from __future__ import annotations

# code: (HTTP status, what it means). The OpenAPI document is built from this.
CODES: dict[str, tuple[int, str]] = {
    # Request shape, raised by the API layer itself.
    "invalid_json": (400, "The body is not valid JSON."),
    "bad_request": (400, "The request is malformed (headers, encoding)."),
    "invalid_body": (422, "A field is missing, of the wrong type or too long."),
    "unknown_field": (422, "The body carries a field this route does not take."),
    "body_too_large": (413, "The body exceeds the size limit (16 KiB)."),
    # Input rules.
    "invalid_address": (422, "The wallet is not a 0x, eip155: or CAIP-10 address."),
    "bad_checksum": (422, "A mixed-case address whose EIP-55 checksum is wrong."),
    "unsupported_platform": (422, "Platform is not one of ios, android, web."),
    "bad_token": (422, "A token of the wrong form or length for its platform."),
    "bad_message": (422, "The sign-in text is not an EIP-4361 message."),
    # Sign-in.
    "bad_signature": (401, "The signature does not prove the message's wallet."),
    "nonce_invalid": (401, "The nonce is unknown, expired or already used."),
    "domain_mismatch": (401, "The message was written for another domain."),
    "uri_mismatch": (401, "The message URI is not an allowed origin."),
    "chain_not_allowed": (401, "The message's chain id is not accepted here."),
    "message_expired": (401, "The message's expiration time has passed."),
    "message_not_yet_valid": (401, "The message's not-before time is ahead."),
    "issued_at_invalid": (401, "Issued-at is in the future or too old."),
    # Sessions and ownership.
    "missing_session": (401, "No bearer token was sent."),
    "invalid_session": (401, "The bearer token is unknown or was revoked."),
    "session_expired": (401, "The bearer token has expired: sign in again."),
    "wallet_mismatch": (403, "The body's wallet is not the session's wallet."),
    "foreign_token": (403, "The device token belongs to another wallet."),
    "not_found": (404, "No such route or device token."),
    "method_not_allowed": (405, "The route does not take this method."),
    "unsupported_media_type": (415, "The body is not JSON."),
    "conflict": (409, "A concurrent request changed the same token; retry."),
    "rate_limited": (429, "Too many requests; wait for Retry-After seconds."),
    # Our side.
    "rpc_unavailable": (503, "The chain's RPC node did not answer (EIP-1271)."),
    "unavailable": (503, "The database or Redis is unreachable; retry later."),
    "internal_error": (500, "A bug on our side; never caused by input."),
}


class ServiceError(Exception):
    """Root of the service exceptions; ``code`` is a key of ``CODES``."""

    def __init__(self, code: str, message: str, field: str | None = None):
        if code not in CODES:
            raise KeyError(f"undocumented error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    @property
    def status(self) -> int:
        return CODES[self.code][0]


class InvalidInput(ServiceError, ValueError):
    """The request breaks an input rule (address, platform, token form)."""


class AuthFailed(ServiceError, PermissionError):
    """The caller did not prove who they are."""


class Forbidden(ServiceError, PermissionError):
    """The caller is known but may not act on this wallet or token."""


class NotFound(ServiceError, LookupError):
    """The device token named does not exist."""


class Unavailable(ServiceError, ConnectionError):
    """A server we depend on did not answer; the request may be retried."""
