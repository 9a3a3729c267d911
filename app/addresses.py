"""One canonical form for wallet and contract addresses.

Addresses reach us as plain hex, ``eip155:<address>`` or CAIP-10
``eip155:<chainId>:<address>``, in any letter case. Everything we store and
compare is the lower-case ``0x`` form, so a wallet registered through the API
and the same wallet seen in a log always match.
"""

from __future__ import annotations

import re

from eth_utils import is_checksum_address

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def is_number(text: str) -> bool:
    """Plain ASCII digits only: ``str.isdigit`` also takes superscripts,
    which ``int`` refuses, and other scripts' digits, which no protocol
    field we read allows."""
    return text.isascii() and text.isdigit()


class InvalidAddress(ValueError):
    """The value is not an Ethereum address in any accepted form."""

    code = "invalid_address"


class BadChecksum(InvalidAddress):
    """Mixed-case hex whose EIP-55 checksum does not match."""

    code = "bad_checksum"


def split_caip10(value: str) -> tuple[int | None, str]:
    """Return (chain id or None, bare address text) without validating."""
    parts = value.strip().split(":")
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2 and parts[0].lower() == "eip155":
        return None, parts[1]
    if len(parts) == 3 and parts[0].lower() == "eip155" and is_number(parts[1]):
        return int(parts[1]), parts[2]
    raise InvalidAddress(f"not an address or CAIP-10 account: {value[:60]!r}")


def normalize_address(value: object) -> str:
    """Return the lower-case ``0x`` address, or raise InvalidAddress.

    Mixed-case input must carry a valid EIP-55 checksum: a typo in a
    checksummed address should fail loudly rather than register a wallet
    nobody owns.
    """
    if not isinstance(value, str):
        raise InvalidAddress("address must be a string")

    _, bare = split_caip10(value)
    if not _HEX_ADDRESS.fullmatch(bare):
        raise InvalidAddress(f"not a 20-byte hex address: {bare[:60]!r}")

    digits = bare[2:]
    mixed_case = digits != digits.lower() and digits != digits.upper()
    if mixed_case and not is_checksum_address(bare):
        raise BadChecksum(f"EIP-55 checksum does not match: {bare}")

    return bare.lower()


def short(value: str, keep: int = 6) -> str:
    """The tail of a secret-ish identifier, for log lines (device tokens)."""
    return "…" + value[-keep:] if len(value) > keep else value
