"""The device-token registry: which phones receive a wallet's notifications.

Rules: a wallet acts only on its own tokens; a token is unique, so when a
second wallet registers it the token moves to that wallet (the phone changed
hands or accounts); registering what is already stored writes nothing and
says so. Every change runs in one transaction, so a refused request leaves
no partial row behind.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass

import peewee as pw

from app.addresses import InvalidAddress, normalize_address, short
from app.db import retry_lock_conflicts, write_transaction
from app.errors import Forbidden, InvalidInput, NotFound
from app.models import DeviceToken, Platform, RemovedToken, utcnow
from app.prepared import Prepared

log = logging.getLogger(__name__)

# APNs tokens are 32 bytes today; Apple warns they may grow, so we take any
# even-length hex up to 100 bytes and store it lower-case.
_APNS_TOKEN = re.compile(r"(?:[0-9a-f]{2}){32,100}")
# FCM registration tokens (Android, and web push through the Firebase web
# SDK) are URL-safe base64 with ":" separators, ~150-200 characters (100 at
# the least, which also tells them from a 64-digit APNs token). The
# column is 255 wide; longer tokens are refused rather than truncated.
_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:.-]{100,255}")
_ID = re.compile(r"[0-9]{1,18}")


class Outcome(enum.StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    MOVED = "moved"


@dataclass(frozen=True)
class DeviceForm:
    """A validated, normalised token with its platform."""

    token: str
    platform: Platform
    voip_token: str | None = None


@dataclass(frozen=True)
class Registration:
    device: DeviceToken
    outcome: Outcome


def parse_wallet(value: str) -> str:
    """A wallet in any accepted form, as stored (lower-case ``0x``)."""
    try:
        return normalize_address(value)
    except InvalidAddress as exc:
        raise InvalidInput(exc.code, str(exc), field="wallet") from None


def parse_platform(value: str) -> Platform:
    try:
        return Platform(value.strip().lower())
    except ValueError:
        raise InvalidInput(
            "unsupported_platform",
            f"platform must be one of {', '.join(p.value for p in Platform)}",
            field="platform",
        ) from None


def validate_device(
    token: str, platform: str, voip_token: str | None = None
) -> DeviceForm:
    """Check a token has the form its platform's push service issues."""
    kind = parse_platform(platform)
    if kind is Platform.IOS:
        token = _apns_token(token, "device_token")
        voip = _apns_token(voip_token, "apn_token") if voip_token else None
        return DeviceForm(token, kind, voip)

    if voip_token:
        raise InvalidInput(
            "bad_token", "apn_token is only taken for ios", field="apn_token"
        )
    if not _FCM_TOKEN.fullmatch(token):
        raise InvalidInput(
            "bad_token",
            f"an {kind.value} token is an FCM registration token: 100-255 "
            "characters of A-Z a-z 0-9 _ - : .",
            field="device_token",
        )
    return DeviceForm(token, kind)


def _apns_token(value: str, field: str) -> str:
    lowered = value.lower()
    if not _APNS_TOKEN.fullmatch(lowered):
        raise InvalidInput(
            "bad_token",
            f"{field}: an APNs token is hex, 64 to 200 digits",
            field=field,
        )
    return lowered


@retry_lock_conflicts()
def register(wallet: str, form: DeviceForm) -> Registration:
    """Store ``form`` for ``wallet``; a concurrent insert is retried once.

    Each path writes at most one statement (an INSERT, or an UPDATE of one
    row), which is atomic by itself, so no transaction is opened: a re-sent
    registration, the app's most common call, costs a single SELECT.
    """
    for _ in range(2):
        try:
            return _upsert(wallet, form)
        except pw.IntegrityError as exc:
            # Another request inserted the token between our read and our
            # insert, or deleted it between our read and our update: the next
            # pass sees what is stored now.
            log.info(
                "token %s changed concurrently (%s), retrying", short(form.token), exc
            )
    return _upsert(wallet, form)


class _Vanished(pw.IntegrityError):
    """The row read a moment ago is gone: its UPDATE changed nothing.

    An IntegrityError, so a third collision answers 409 ``conflict``."""


def _upsert(wallet: str, form: DeviceForm) -> Registration:
    row = _find_token(form.token)
    if row is None:
        row = _insert(wallet, form)
        log.info(
            "registered %s token %s for %s", form.platform, short(row.token), wallet
        )
        return Registration(row, Outcome.CREATED)

    if row.wallet == wallet and _same(row, form):
        return Registration(row, Outcome.UNCHANGED)

    outcome = Outcome.UPDATED if row.wallet == wallet else Outcome.MOVED
    if outcome is Outcome.MOVED:
        log.info("token %s moves from %s to %s", short(row.token), row.wallet, wallet)
    if not _apply(row, form, wallet):
        raise _Vanished(form.token)
    return Registration(row, outcome)


# Every registration runs these two: compiled once (see app.prepared).
_COLUMNS = tuple(DeviceToken._meta.sorted_fields)
_BY_TOKEN = Prepared(
    lambda p: DeviceToken.select(*_COLUMNS).where(DeviceToken.token == p("token")),
    _COLUMNS,
)
_INSERT = Prepared(
    lambda p: DeviceToken.insert(
        {f: p(f.name) for f in _COLUMNS if f is not DeviceToken.id}
    )
)


def _find_token(token: str) -> DeviceToken | None:
    row = _BY_TOKEN.first(token=token)
    if row is None:
        return None
    return DeviceToken(**{f.name: v for f, v in zip(_COLUMNS, row, strict=True)})


def _insert(wallet: str, form: DeviceForm) -> DeviceToken:
    now = utcnow()
    row = DeviceToken(
        wallet=wallet,
        token=form.token,
        platform=form.platform.value,
        voip_token=form.voip_token,
        created_at=now,
        updated_at=now,
    )
    values = {
        f.name: f.db_value(getattr(row, f.name))
        for f in _COLUMNS
        if f is not DeviceToken.id
    }
    row.id = _INSERT.execute(**values).lastrowid
    return row


def list_devices(wallet: str) -> list[DeviceToken]:
    return list(
        DeviceToken.select()
        .where(DeviceToken.wallet == wallet)
        .order_by(DeviceToken.id)
    )


@retry_lock_conflicts()
def update_device(
    wallet: str,
    ref: str,
    token: str | None = None,
    platform: str | None = None,
    voip_token: str | None = None,
    clear_voip: bool = False,
) -> Registration:
    """Rotate a token or change its platform; the result is validated whole."""
    if token is None and platform is None and voip_token is None and not clear_voip:
        raise InvalidInput("invalid_body", "send device_token, platform or apn_token")
    with write_transaction():
        row = _owned(wallet, ref)
        platform = platform if platform is not None else row.platform
        if clear_voip:
            voip = None
        elif voip_token is not None:
            voip = voip_token
        else:
            # A VoIP token only survives while the device stays on iOS.
            voip = row.voip_token if platform.strip().lower() == Platform.IOS else None
        form = validate_device(
            token if token is not None else row.token, platform, voip
        )
        if _same(row, form):
            return Registration(row, Outcome.UNCHANGED)

        if form.token != row.token:
            _take_over(wallet, form.token)
        if not _apply(row, form, wallet):
            raise NotFound("not_found", "no such device token")
        log.info("updated device %s of %s (token %s)", row.id, wallet, short(row.token))
        return Registration(row, Outcome.UPDATED)


@retry_lock_conflicts()
def delete_device(wallet: str, ref: str) -> None:
    with write_transaction():
        row = _owned(wallet, ref)
        if not _remove(row, "deleted_by_wallet"):
            raise NotFound("not_found", "no such device token")
    log.info("deleted device %s of %s (token %s)", row.id, wallet, short(row.token))


@retry_lock_conflicts()
def delete_all(wallet: str) -> int:
    """Forget every device of ``wallet`` (log out everywhere)."""
    with write_transaction():
        rows = list(DeviceToken.select().where(DeviceToken.wallet == wallet))
        count = sum(_remove(row, "logout") for row in rows)
    log.info("deleted all %d device(s) of %s", count, wallet)
    return count


def _owned(wallet: str, ref: str) -> DeviceToken:
    """The device ``ref`` names (an id or the token), if it is ``wallet``'s."""
    if _ID.fullmatch(ref):
        row = DeviceToken.get_or_none(DeviceToken.id == int(ref))
    elif not ref.isascii():
        # Tokens are ASCII; MySQL refuses to compare other text with them.
        row = None
    else:
        row = DeviceToken.get_or_none(DeviceToken.token.in_({ref, ref.lower()}))
    if row is None:
        raise NotFound("not_found", "no such device token")
    if row.wallet != wallet:
        log.warning(
            "%s refused access to token %s of another wallet", wallet, short(row.token)
        )
        raise Forbidden("foreign_token", "this device token belongs to another wallet")
    return row


def _take_over(wallet: str, token: str) -> None:
    """Drop another row holding ``token``: a rotated token moves to us."""
    other = DeviceToken.get_or_none(DeviceToken.token == token)
    if other is None:
        return
    log.info(
        "token %s moves from %s to %s by rotation", short(token), other.wallet, wallet
    )
    _remove(other, "moved")


def _same(row: DeviceToken, form: DeviceForm) -> bool:
    return (
        row.token == form.token
        and row.platform == form.platform.value
        and row.voip_token == form.voip_token
    )


# Writes name the row by id *and* the wallet it was read with: a row read a
# moment ago (or in an older snapshot, on InnoDB) may since have been
# deleted or moved to another wallet, and must then be left alone.


def _apply(row: DeviceToken, form: DeviceForm, wallet: str) -> bool:
    """Write ``form`` for ``wallet`` into the row as read; False if it changed."""
    now = utcnow()
    changed = (
        DeviceToken.update(
            wallet=wallet,
            token=form.token,
            platform=form.platform.value,
            voip_token=form.voip_token,
            updated_at=now,
        )
        .where((DeviceToken.id == row.id) & (DeviceToken.wallet == row.wallet))
        .execute()
    )
    if changed != 1:
        return False
    row.wallet, row.token = wallet, form.token
    row.platform, row.voip_token = form.platform.value, form.voip_token
    row.updated_at = now
    return True


def _remove(row: DeviceToken, reason: str) -> bool:
    """Delete the row as read and keep why; False if it changed meanwhile."""
    gone = (
        DeviceToken.delete()
        .where((DeviceToken.id == row.id) & (DeviceToken.wallet == row.wallet))
        .execute()
    )
    if gone != 1:
        return False
    RemovedToken.create(
        token_suffix=row.token[-8:],
        wallet=row.wallet,
        platform=row.platform,
        reason=reason,
    )
    return True
