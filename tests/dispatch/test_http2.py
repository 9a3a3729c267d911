"""Our HTTP/2 client against a real HTTP/2 server: flow control, many streams."""

from __future__ import annotations

import asyncio
import random

import hpack

from app.jobs.http2 import Http2Pool, client_connection
from tests.fakes.server import FakeServer, Reply, Request


def echo_length(request: Request) -> Reply:
    return Reply(200, str(len(request.body)).encode())


def test_a_body_larger_than_the_stream_window_waits_for_window_updates():
    """64 KiB is the default stream window: a larger body must wait, not fail."""
    server = FakeServer(echo_length)
    port = server.start_in_thread()

    async def send() -> tuple[int, bytes]:
        pool = Http2Pool(f"http://127.0.0.1:{port}")
        try:
            response = await pool.post("/echo", [], b"x" * 300_000)
            return response.status, response.body
        finally:
            await pool.close()

    try:
        assert asyncio.run(send()) == (200, b"300000")
    finally:
        server.stop()


def test_many_concurrent_requests_share_few_connections():
    server = FakeServer(echo_length, max_streams=50)
    port = server.start_in_thread()

    async def send() -> tuple[list[bytes], int]:
        pool = Http2Pool(f"http://127.0.0.1:{port}", max_connections=2)
        try:
            responses = await asyncio.gather(
                *(pool.post("/echo", [], b"y" * n) for n in range(1, 301))
            )
            return [r.body for r in responses], len(pool._connections)
        finally:
            await pool.close()

    try:
        bodies, connections = asyncio.run(send())
    finally:
        server.stop()
    assert bodies == [str(n).encode() for n in range(1, 301)]
    assert connections <= 2


def test_cached_header_encoding_decodes_to_the_headers_sent():
    """Whatever repeats, changes, or resizes the table, every block decodes right."""
    rng = random.Random(7)
    conn = client_connection(frozenset({":path", "apns-id"}), table_size=256)
    decoder = hpack.Decoder()
    authorization = "bearer one"
    for n in range(400):
        if n % 97 == 0:
            authorization = f"bearer {rng.getrandbits(64):x}"  # renewed token
        if n == 200:
            conn.encoder.header_table_size = 128  # the peer's SETTINGS shrink it
            decoder.header_table_size = 128
        headers = [
            (":method", "POST"),
            (":path", f"/3/device/{rng.getrandbits(64):x}"),
            ("apns-id", str(n)),
            ("apns-collapse-id", f"epns-{rng.randrange(3)}"),
            ("authorization", authorization),
        ]
        block = conn.encoder.encode(headers)
        assert decoder.decode(block) == headers
