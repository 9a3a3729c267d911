"""Our HTTP/2 client against a real HTTP/2 server: flow control, many streams."""

from __future__ import annotations

import asyncio
import random

import h2.config
import h2.connection
import h2.events
import hpack

from app.jobs.http2 import Http2Pool
from app.jobs.http2_headers import client_connection
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


def test_unique_headers_never_enter_the_table_on_the_h2_path():
    """Through h2's own send path a server decodes every request, table stable."""
    client = client_connection(frozenset({":path", "apns-id"}), table_size=1024)
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    )
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    for n in range(300):
        stream_id = client.get_next_available_stream_id()
        headers = [
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "push.example:443"),
            (":path", f"/3/device/{n:064x}"),
            ("apns-id", f"id-{n}"),
            ("authorization", "bearer same"),
        ]
        client.send_headers(stream_id, headers, end_stream=True)
        events = server.receive_data(client.data_to_send())
        received = [e for e in events if isinstance(e, h2.events.RequestReceived)]
        assert [list(r.headers) for r in received] == [headers]
        server.send_headers(stream_id, [(":status", "200")], end_stream=True)
        client.receive_data(server.data_to_send())
    names = {name for name, _ in client.encoder.header_table.dynamic_entries}
    assert names == {b":authority", b"authorization"}
