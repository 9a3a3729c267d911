"""A bare HTTP/2 client: the ceiling our APNs sender is measured against.

It sends exactly the requests our sender sends (same headers, same body,
same connection and stream limits, the same h2 settings and header
encoding) with nothing around them: no ledger, no retries, no
classification. Whatever it reaches is what Python, h2 and the fake allow
on this machine.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time

import h2.events

from app.jobs.apns import HPACK_TABLE, UNIQUE_HEADERS, PushIds
from app.jobs.http2_headers import client_connection


class _Client(asyncio.Protocol):
    def __init__(self, streams: int) -> None:
        # The same h2 settings, header encoding and table size as our sender.
        self.conn = client_connection(UNIQUE_HEADERS, HPACK_TABLE)
        self.free = asyncio.Semaphore(streams)
        self.waiting: dict[int, asyncio.Future] = {}
        self.status: dict[int, int] = {}
        self.pending = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.conn.initiate_connection()
        self.flush()

    def flush(self) -> None:
        if not self.pending:
            self.pending = True
            asyncio.get_running_loop().call_soon(self._write)

    def _write(self) -> None:
        self.pending = False
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                self.status[event.stream_id] = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id
                )
            elif isinstance(event, h2.events.StreamEnded):
                future = self.waiting.pop(event.stream_id, None)
                if future and not future.done():
                    future.set_result(self.status.pop(event.stream_id, 0))
        self.flush()

    async def post(self, headers: list[tuple[str, str]], body: bytes) -> int:
        async with self.free:
            stream_id = self.conn.get_next_available_stream_id()
            self.conn.send_headers(stream_id, headers)
            self.conn.send_data(stream_id, body, end_stream=True)
            future = asyncio.get_running_loop().create_future()
            self.waiting[stream_id] = future
            self.flush()
            return await future


async def send_all(
    host: str,
    port: int,
    ca_file: str,
    tokens: list[str],
    headers: dict[str, str],
    body: dict,
    concurrency: int = 500,
    streams: int = 100,
) -> tuple[float, int]:
    """Send one request per token; returns (seconds, number answered 200)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    clients = []
    for _ in range(max(concurrency // streams, 1)):
        _, client = await loop.create_connection(
            lambda: _Client(streams), host, port, ssl=context
        )
        clients.append(client)
    payload = json.dumps(body, ensure_ascii=False).encode()
    ids = PushIds()

    async def one(i: int, token: str) -> int:
        request = [
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", f"{host}:{port}"),
            (":path", f"/3/device/{token}"),
            ("apns-id", ids.next()),
            *headers.items(),
        ]
        return await clients[i % len(clients)].post(request, payload)

    start = time.perf_counter()
    statuses = await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
    elapsed = time.perf_counter() - start
    for client in clients:
        client.transport.close()
    return elapsed, sum(1 for s in statuses if s == 200)
