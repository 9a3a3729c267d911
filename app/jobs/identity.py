"""Parse the identity bytes of a SendNotification log into a storage pointer.

The identity says where the payload lives, not what it says. Its form
changed at a per-chain cut-over block: before it, ``<type>+<CID>``; after
it, ``<storage>+<pointer>`` (see PROTOCOL.md). Anything we cannot read is a
``Skip`` with a reason an operator can act on, never an exception that
fails the job and gets retried.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.addresses import is_number


class Skip(Exception):
    """The notification cannot or must not be pushed; the reason is stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:255]


class Storage(enum.IntEnum):
    MINIMAL = 0
    IPFS = 1
    DIRECT = 2
    SUBGRAPH = 3
    CHAT = 4


@dataclass(frozen=True)
class Identity:
    storage: Storage
    pointer: str
    # Only minimal identities carry the message itself.
    notification_type: str | None = None
    title: str = ""
    body: str = ""


MAX_IDENTITY_BYTES = 16384


def parse_identity(raw: bytes, block_number: int, cutover_block: int) -> Identity:
    """Read raw identity bytes of a log mined at ``block_number``."""
    if not raw:
        raise Skip("identity is empty")
    if len(raw) > MAX_IDENTITY_BYTES:
        raise Skip(f"identity is {len(raw)} bytes, over {MAX_IDENTITY_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Skip("identity is not UTF-8") from None

    head, sep, rest = text.partition("+")
    head = head.strip()
    if not sep or not is_number(head):
        raise Skip(f"identity has no '<number>+' prefix: {text[:40]!r}")
    if block_number < cutover_block:
        return _legacy(head, rest)
    return _current(int(head), rest)


def _legacy(notification_type: str, cid: str) -> Identity:
    """Before the cut-over every identity was ``<type>+<IPFS CID>``."""
    if not cid.strip():
        raise Skip("legacy identity has no CID")
    return Identity(Storage.IPFS, cid.strip(), notification_type=notification_type)


def _current(storage: int, rest: str) -> Identity:
    if storage == Storage.MINIMAL:
        parts = rest.split("+", 2)
        if len(parts) != 3:
            raise Skip("minimal identity needs '0+<type>+<title>+<body>'")
        ntype, title, body = parts
        return Identity(Storage.MINIMAL, rest, ntype.strip(), title, body)
    if storage == Storage.IPFS:
        if not rest.strip():
            raise Skip("IPFS identity has no CID")
        return Identity(Storage.IPFS, rest.strip())
    if storage == Storage.DIRECT:
        return Identity(Storage.DIRECT, rest)
    if storage == Storage.SUBGRAPH:
        return Identity(Storage.SUBGRAPH, rest)
    if storage == Storage.CHAT:
        raise Skip("storage type 4 (chat reference) is not pushed")
    raise Skip(f"unknown storage type {storage}")
