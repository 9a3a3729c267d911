"""A channel's display name, info, url and icon, read from its IPFS meta.

The poller stores a channel's identity (``1+<CID>``) as the chain states it
and fetches nothing, so a slow gateway never holds up a block range. The
first dispatch that needs the channel's name reads the meta here and stores
it with the identity it came from; an UpdateChannel with a new identity
makes the next dispatch read it again.
"""

from __future__ import annotations

import json
import logging

from app.jobs.identity import Skip
from app.jobs.ipfs import IpfsFetcher, Unavailable
from app.models import Channel

log = logging.getLogger(__name__)

# Limits of the EPNS channel meta: longer values are cut, not refused.
LIMITS = {"name": 40, "info": 240, "url": 160}
ICON_PREFIXES = ("data:image/", "https://", "http://", "ipfs://")


def refresh_meta(chain_id: int, address: str, ipfs: IpfsFetcher) -> None:
    """Store the meta of the channel's current identity, if not yet read."""
    channel = Channel.get_or_none(
        (Channel.chain_id == chain_id) & (Channel.address == address)
    )
    if channel is None or not channel.identity:
        return
    if channel.identity == channel.meta_identity:
        return

    try:
        fields = read_meta(channel.identity, ipfs)
    except Unavailable as exc:
        # Gateways down: display the address for now, read it next time.
        log.warning(
            "chain %s channel %s: meta unavailable (%s)", chain_id, address, exc
        )
        return
    except Skip as exc:
        log.warning(
            "chain %s channel %s: meta refused (%s)", chain_id, address, exc.reason
        )
        fields = {}

    # Only if the identity did not change meanwhile (a newer UpdateChannel).
    Channel.update(**fields, meta_identity=channel.identity).where(
        (Channel.id == channel.id) & (Channel.identity == channel.identity)
    ).execute()
    log.info(
        "chain %s channel %s: meta read, name %r", chain_id, address, fields.get("name")
    )


def read_meta(identity: str, ipfs: IpfsFetcher) -> dict[str, str | None]:
    """Name, info, url and icon of a ``1+<CID>`` identity; Skip if unusable."""
    storage, _, cid = identity.partition("+")
    if storage != "1" or not cid:
        raise Skip(f"channel identity is not an IPFS pointer: {identity[:60]!r}")

    try:
        meta = json.loads(ipfs.fetch(cid))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Skip("channel meta is not valid JSON") from None
    if not isinstance(meta, dict):
        raise Skip("channel meta is not a JSON object")

    fields = {key: _text(meta.get(key), limit) for key, limit in LIMITS.items()}
    icon = meta.get("icon")
    fields["icon"] = (
        icon if isinstance(icon, str) and icon.startswith(ICON_PREFIXES) else None
    )
    return fields


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]
