"""HTTP/2 client connections tuned for many small requests, and their HPACK.

Push requests repeat almost every header: only the path and the apns-id
change. Encoding them as h2 does by default (validated, Huffman-coded,
looked up in the table one by one) cost more than the rest of a request's
header handling; here the repeated headers' bytes are reused while the
table is unchanged, and the unique ones are written as never-indexed
literals directly.
"""

from __future__ import annotations

import functools

import h2.config
import h2.connection
from hpack.hpack import encode_integer
from hpack.table import HeaderTable

HPACK_TABLE = 4096


def client_connection(
    unique: frozenset[str] = frozenset(), table_size: int = HPACK_TABLE
) -> h2.connection.H2Connection:
    """An h2 client connection tuned for many small requests to one API.

    We build every header ourselves, from constants and values checked
    when they were stored (tokens), so h2's header validation, which costs
    more than the rest of a request's header handling, is skipped. Headers
    go out without Huffman coding (CPU for a few bytes); those named in
    ``unique`` change on every request and are kept out of the HPACK table,
    so what repeats (the provider or OAuth token too) stays indexed.
    """
    config = h2.config.H2Configuration(
        client_side=True,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
    )
    conn = h2.connection.H2Connection(config)
    conn.encoder.header_table_size = table_size
    conn.encoder.encode = HeaderEncoder(conn.encoder, unique)
    return conn


@functools.cache
def _never_indexed_name(name: bytes) -> bytes:
    """The start of a never-indexed literal (RFC 7541 6.2.3) up to its value.

    The name is referenced in the static table where it is there, else sent
    literally; no dynamic table lookup is needed either way, and the value
    follows as a plain (not Huffman-coded) string.
    """
    index = next(
        (i for i, (n, _) in enumerate(HeaderTable.STATIC_TABLE, 1) if n == name), 0
    )
    if index:
        head = encode_integer(index, 4)
        head[0] |= 0x10
        return bytes(head)
    return b"\x10" + bytes(encode_integer(len(name), 7)) + name


def _bytes(text: bytes | str) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


class HeaderEncoder:
    """HPACK encoding that reuses the bytes of headers it has encoded before.

    Once a repeated header is in the dynamic table, its encoding is an index
    of a byte or two, the same on every request for as long as the table
    does not change; and nothing changes it while the only new values are
    the never-indexed unique ones. So each repeated header is encoded once
    per table state, and the unique ones are written as never-indexed
    literals directly. A resize (the peer's SETTINGS) or any addition
    starts the cache afresh.
    """

    def __init__(self, encoder, unique: frozenset[str]) -> None:
        self._encode = encoder.encode
        self._table = encoder.header_table
        # h2 hands over names as bytes; callers name them as text.
        self._unique = unique | {_bytes(n) for n in unique}
        self._cache: dict[tuple, bytes] = {}
        self._state = self._table_state()

    def __call__(self, headers, huffman: bool = True) -> bytes:
        if self._table.resized or not self._unchanged():
            self._cache.clear()
            block = self._encode(
                [(n, v, n in self._unique) for n, v in headers], huffman=False
            )
            self._state = self._table_state()
            return block
        return b"".join([self._one(name, value) for name, value in headers])

    def _one(self, name: bytes | str, value: bytes | str) -> bytes:
        if name in self._unique:
            raw = _bytes(value)
            head = _never_indexed_name(_bytes(name))
            return head + encode_integer(len(raw), 7) + raw
        key = (name, value)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._encode([key], huffman=False)
            if self._unchanged():
                self._cache[key] = cached
            else:  # it was added to the table: what was cached may be stale
                self._cache.clear()
                self._state = self._table_state()
        return cached

    def _unchanged(self) -> bool:
        length, first = self._table_state()
        return length == self._state[0] and first is self._state[1]

    def _table_state(self) -> tuple[int, object]:
        # Additions put a new tuple first; holding it keeps its identity ours.
        entries = self._table.dynamic_entries
        return len(entries), entries[0] if entries else None
