"""Device-token routes: register (the current app's call), list, update, delete."""

from __future__ import annotations

from app import tokens
from app.api.blueprint import ApiBlueprint
from app.api.errors import BODY_CODES, documents
from app.api.limits import write_limits
from app.api.schemas import (
    DeletedSchema,
    DeviceListSchema,
    RegisterResultSchema,
    RegisterSchema,
    UpdateSchema,
    device_view,
)
from app.api.session import (
    SESSION_CODES,
    current_session,
    end_session,
    require_wallet,
    signed_in,
)

blp = ApiBlueprint(
    "pushtokens",
    __name__,
    url_prefix="/apis/v1/pushtokens",
    description="Device tokens of the signed-in wallet",
)

FORM_CODES = ("unsupported_platform", "bad_token")
BEARER = [{"bearer": []}]


@blp.route("/register", methods=["POST"])
@write_limits
@signed_in
@blp.arguments(RegisterSchema())
@blp.response(201, RegisterResultSchema, description="A new token was stored")
@blp.alt_response(
    200,
    schema=RegisterResultSchema,
    description="The token was already stored: `unchanged`, `updated` or `moved`",
    success=True,
)
@documents(
    blp,
    *BODY_CODES,
    *SESSION_CODES,
    *FORM_CODES,
    "invalid_address",
    "bad_checksum",
    "wallet_mismatch",
    security=BEARER,
)
def register(body: dict) -> tuple[dict, int]:
    """Register the phone's push token for the session's wallet.

    The body is the current EPNS app's. `wallet` must be the signed-in
    wallet. A token another wallet registered moves to this one; sending
    the same registration again changes nothing (`result: unchanged`).
    """
    wallet = tokens.parse_wallet(body["wallet"])
    require_wallet(wallet)
    form = tokens.validate_device(
        body["device_token"], body["platform"], body.get("apn_token")
    )

    done = tokens.register(wallet, form)
    status = 201 if done.outcome is tokens.Outcome.CREATED else 200
    return {"result": done.outcome.value, "device": device_view(done.device)}, status


@blp.route("", methods=["GET"])
@blp.response(200, DeviceListSchema)
@documents(blp, *SESSION_CODES, security=BEARER)
def list_devices() -> dict:
    """The devices registered for the session's wallet."""
    rows = tokens.list_devices(current_session().wallet)
    return {"devices": [device_view(row) for row in rows]}


@blp.route("", methods=["DELETE"])
@write_limits
@blp.response(200, DeletedSchema)
@documents(blp, *SESSION_CODES, security=BEARER)
def delete_all() -> dict:
    """Log out: forget every device of the wallet and end this session."""
    return {"deleted": end_session(forget_devices=True)}


@blp.route("/<string:ref>", methods=["PATCH"])
@write_limits
@signed_in
@blp.arguments(UpdateSchema())
@blp.response(200, RegisterResultSchema)
@documents(
    blp,
    *BODY_CODES,
    *SESSION_CODES,
    *FORM_CODES,
    "foreign_token",
    "not_found",
    "conflict",
    security=BEARER,
)
def update_device(body: dict, ref: str) -> dict:
    """Rotate a device's token or change its platform.

    `ref` is the device id or its current token. `apn_token: null` removes
    the VoIP token.
    """
    wallet = current_session().wallet
    done = tokens.update_device(
        wallet,
        ref,
        token=body.get("device_token"),
        platform=body.get("platform"),
        voip_token=body.get("apn_token"),
        clear_voip="apn_token" in body and body["apn_token"] is None,
    )
    return {"result": done.outcome.value, "device": device_view(done.device)}


@blp.route("/<string:ref>", methods=["DELETE"])
@write_limits
@blp.response(204)
@documents(blp, *SESSION_CODES, "foreign_token", "not_found", security=BEARER)
def delete_device(ref: str) -> None:
    """Forget one device (by id or token) of the session's wallet."""
    tokens.delete_device(current_session().wallet, ref)
