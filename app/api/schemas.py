"""Request and response bodies of the Token API.

Schemas check shape only (types, required fields, lengths, unknown fields);
the rules (address forms, platforms, token forms) live in the services, so
they answer with their own stable error codes. Body schemas take
well-formed bodies directly (``app.api.loading``), answer schemas dump the
views' dicts directly (``app.api.dumping``).
"""

from __future__ import annotations

import datetime as dt

from marshmallow import fields, validate

from app.addresses import short
from app.api.dumping import DictDumpSchema
from app.api.loading import TextLoadSchema
from app.models import DeviceToken, Platform

PLATFORMS = [p.value for p in Platform]


class UtcDateTime(fields.DateTime):
    """Stored times are naive UTC; answer them with their offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _text(max_length: int, **metadata) -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=max_length),
        metadata=metadata,
    )


class NonceSchema(DictDumpSchema):
    nonce = fields.String(metadata={"description": "Put it in the message's Nonce"})
    expires_at = UtcDateTime()
    domain = fields.String(metadata={"description": "The message's domain"})
    uri = fields.String(metadata={"description": "A URI the message may carry"})
    chain_ids = fields.List(fields.Integer(), metadata={"description": "Accepted"})


class LoginSchema(TextLoadSchema):
    message = _text(4096, description="The EIP-4361 message, as signed")
    signature = _text(
        8194, description="0x-prefixed hex: an EOA signature or EIP-1271 bytes"
    )


class LoginResultSchema(DictDumpSchema):
    token = fields.String(metadata={"description": "Send as Authorization: Bearer"})
    wallet = fields.String(metadata={"description": "Lower-case 0x address"})
    expires_at = UtcDateTime()


class SessionSchema(DictDumpSchema):
    wallet = fields.String()
    chain_id = fields.Integer()
    expires_at = UtcDateTime()


class RegisterSchema(TextLoadSchema):
    """The body the current EPNS app sends."""

    wallet = _text(120, description="0x…, eip155:0x… or eip155:<chainId>:0x…")
    device_token = _text(
        4096,
        description="APNs token (ios: hex) or FCM registration token (android, web)",
    )
    platform = _text(32, enum=PLATFORMS)
    apn_token = fields.String(
        allow_none=True,
        validate=validate.Length(max=4096),
        metadata={"description": "Optional iOS VoIP (APNs) token, hex"},
    )


class UpdateSchema(TextLoadSchema):
    device_token = fields.String(
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "The new token (rotation)"},
    )
    platform = fields.String(
        validate=validate.Length(min=1, max=32), metadata={"enum": PLATFORMS}
    )
    apn_token = fields.String(
        allow_none=True,
        validate=validate.Length(max=4096),
        metadata={"description": "New VoIP token; null removes it"},
    )


class DeviceSchema(DictDumpSchema):
    id = fields.Integer()
    wallet = fields.String()
    platform = fields.String(metadata={"enum": PLATFORMS})
    token_suffix = fields.String(metadata={"description": "Last characters only"})
    has_apn_token = fields.Boolean()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class RegisterResultSchema(DictDumpSchema):
    result = fields.String(
        metadata={
            "enum": ["created", "unchanged", "updated", "moved"],
            "description": "unchanged: the same registration was already stored",
        }
    )
    device = fields.Nested(DeviceSchema)


class DeviceListSchema(DictDumpSchema):
    devices = fields.List(fields.Nested(DeviceSchema))


class DeletedSchema(DictDumpSchema):
    deleted = fields.Integer(metadata={"description": "Device tokens removed"})


def device_view(row: DeviceToken) -> dict:
    """A device as the API shows it: never the whole token."""
    return {
        "id": row.id,
        "wallet": row.wallet,
        "platform": row.platform,
        "token_suffix": short(row.token),
        "has_apn_token": row.voip_token is not None,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
