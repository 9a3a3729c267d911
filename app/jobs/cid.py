"""Content identifiers: check that bytes from a gateway are the bytes asked for.

A gateway is an untrusted cache. We accept its answer only if hashing it
reproduces the CID, so a broken or hostile gateway cannot put words in a
channel's mouth. Supported: sha2-256 multihashes of raw blocks (CIDv1 codec
``raw``) and of single-block UnixFS files (CIDv0 ``Qm…`` and CIDv1
``dag-pb``), which is what ``ipfs add`` makes for anything under 256 KiB.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SHA2_256 = 0x12
RAW = 0x55
DAG_PB = 0x70
# One UnixFS chunk with the default chunker; larger files span several
# blocks, whose root hash we cannot check from the content alone.
MAX_SINGLE_BLOCK = 262144


class InvalidCid(ValueError):
    """The text is not a CID we can verify."""


@dataclass(frozen=True)
class Cid:
    version: int
    codec: int
    digest: bytes

    def matches(self, content: bytes) -> bool:
        """True when ``content`` hashes to this CID."""
        if self.codec == RAW:
            block = content
        elif len(content) <= MAX_SINGLE_BLOCK:
            block = unixfs_file_block(content)
        else:
            return False
        return hashlib.sha256(block).digest() == self.digest


def parse_cid(text: str) -> Cid:
    """Parse CIDv0 (base58btc ``Qm…``) or CIDv1 in base32 (``b…``)."""
    text = text.strip()
    if len(text) == 46 and text.startswith("Qm"):
        return Cid(0, DAG_PB, _digest(_b58decode(text)))
    if len(text) > 8 and text[0] in "bB":
        raw = _b32decode(text[1:])
        version, rest = _varint(raw)
        codec, rest = _varint(rest)
        if version != 1 or codec not in (RAW, DAG_PB):
            raise InvalidCid(f"unsupported CID version/codec: {text[:20]}")
        return Cid(1, codec, _digest(rest))
    raise InvalidCid(f"not a CIDv0 or base32 CIDv1: {text[:60]!r}")


def cid_v0(content: bytes) -> str:
    """The CIDv0 ``ipfs add`` gives a file of one block (used by the fakes)."""
    digest = hashlib.sha256(unixfs_file_block(content)).digest()
    return _b58encode(bytes([_SHA2_256, 32]) + digest)


def cid_v1_raw(content: bytes) -> str:
    digest = hashlib.sha256(content).digest()
    raw = bytes([1, RAW, _SHA2_256, 32]) + digest
    return "b" + base64.b32encode(raw).decode().rstrip("=").lower()


def unixfs_file_block(content: bytes) -> bytes:
    """The dag-pb node of a one-block UnixFS file, as go-ipfs encodes it."""
    unixfs = b"\x08\x02"  # Type = File
    if content:
        unixfs += b"\x12" + _uvarint(len(content)) + content
    unixfs += b"\x18" + _uvarint(len(content))
    return b"\x0a" + _uvarint(len(unixfs)) + unixfs


def _digest(multihash: bytes) -> bytes:
    code, rest = _varint(multihash)
    size, rest = _varint(rest)
    if code != _SHA2_256 or size != 32 or len(rest) != 32:
        raise InvalidCid("only sha2-256 multihashes are supported")
    return rest


def _varint(data: bytes) -> tuple[int, bytes]:
    value = shift = 0
    for i, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, data[i + 1 :]
        shift += 7
    raise InvalidCid("truncated varint")


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise InvalidCid(f"invalid base58 character {char!r}")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


def _b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _B58[rem] + out
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + out


def _b32decode(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        return base64.b32decode(padded)
    except ValueError as exc:
        raise InvalidCid(f"invalid base32: {exc}") from None
