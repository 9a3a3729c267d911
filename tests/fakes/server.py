"""A small HTTP server speaking HTTP/1.1 and HTTP/2 (TLS or prior knowledge).

The fakes of FCM, APNs and an IPFS gateway sit on it. It answers through
a synchronous handler so tens of thousands of requests a second stay
cheap, and a reply can ask it to misbehave the ways real services do:
answer late, reset the stream, send GOAWAY, or never answer at all.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

PREFACE = b"PRI * HTTP/2.0"
CONNECTION_WINDOW = 1 << 24
# Unique per answer: indexing them only churns both ends' HPACK tables.
NEVER_INDEXED = frozenset({"apns-id", b"apns-id"})


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: dict = field(default_factory=dict)

    def json(self) -> object:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    action: str | None = None  # "reset", "goaway" or "silent"
    delivered: bool = False  # reached the device whatever the answer says

    @classmethod
    def json(cls, status: int, doc: object, **kwargs) -> Reply:
        headers = [("content-type", "application/json"), *kwargs.pop("headers", [])]
        return cls(status, json.dumps(doc).encode(), headers, **kwargs)


Handler = Callable[[Request], Reply]


class _Connection(asyncio.Protocol):
    def __init__(self, handler: Handler, max_streams: int, checks: bool) -> None:
        self.handler = handler
        self.max_streams = max_streams
        self.checks = checks
        self.transport: asyncio.Transport | None = None
        self.mode: str | None = None
        self.buffer = b""
        self.state: dict = {}
        self.h2: h2.connection.H2Connection | None = None
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        # While a read is being handled, replies wait for its single write.
        self.reading = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        if self.mode is None:
            self.buffer += data
            if len(self.buffer) < len(PREFACE) and PREFACE.startswith(self.buffer):
                return
            self.mode = "h2" if self.buffer.startswith(PREFACE) else "h1"
            data, self.buffer = self.buffer, b""
            if self.mode == "h2":
                self._start_h2()
        if self.mode == "h2":
            self._h2_data(data)
        else:
            self._h1_data(data)

    # HTTP/2 -------------------------------------------------------------
    def _start_h2(self) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        if not self.checks:
            # Header validation is most of h2's per-request cost; a benchmark
            # fake that pays it becomes the ceiling it is meant to measure.
            config.validate_inbound_headers = config.normalize_inbound_headers = False
            config.validate_outbound_headers = False
            config.normalize_outbound_headers = False
        self.h2 = h2.connection.H2Connection(config)
        self.h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_streams
            },
        )
        self.h2.encoder.encode = partial(_encode, self.h2.encoder.encode)
        self.h2.initiate_connection()
        # Like the real services, allow far more than the 64 KiB default in
        # flight, so a client may open hundreds of streams at once.
        self.h2.increment_flow_control_window(CONNECTION_WINDOW)

    def _h2_data(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            self.transport.close()
            return
        self.reading = True
        try:
            self._h2_events(events)
        finally:
            self.reading = False
        self._flush()

    def _h2_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.streams[event.stream_id] = (dict(event.headers), bytearray())
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in self.streams:
                    self.streams[event.stream_id][1].extend(event.data)
                self.h2.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id
                )
            elif isinstance(event, h2.events.StreamEnded):
                self._h2_request(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.transport.close()

    def _h2_request(self, stream_id: int) -> None:
        headers, body = self.streams.pop(stream_id, ({}, bytearray()))
        request = Request(
            headers.get(":method", ""),
            headers.get(":path", ""),
            {k: v for k, v in headers.items() if not k.startswith(":")},
            bytes(body),
            self.state,
        )
        reply = self.handler(request)
        if reply.delay:
            self.loop.call_later(reply.delay, self._h2_reply, stream_id, reply)
        else:
            self._h2_reply(stream_id, reply)

    def _h2_reply(self, stream_id: int, reply: Reply) -> None:
        if self.transport.is_closing():
            return
        try:
            if reply.action == "silent":
                return
            if reply.action == "reset":
                self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
            elif reply.action == "goaway":
                self.h2.close_connection(
                    last_stream_id=stream_id - 2 if stream_id > 2 else 0
                )
                self._flush()
                self.transport.close()
                return
            else:
                headers = [(":status", str(reply.status)), *reply.headers]
                headers.append(("content-length", str(len(reply.body))))
                self.h2.send_headers(stream_id, headers, end_stream=not reply.body)
                if reply.body:
                    self.h2.send_data(stream_id, reply.body, end_stream=True)
        except h2.exceptions.StreamClosedError:
            return
        if not self.reading:
            self._flush()

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    # HTTP/1.1 -----------------------------------------------------------
    def _h1_data(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            lines = self.buffer[:head_end].decode("latin-1").split("\r\n")
            method, path, _ = [*lines[0].split(" "), "", ""][:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            reply = self.handler(Request(method, path, headers, body, self.state))
            if reply.delay:
                self.loop.call_later(reply.delay, self._h1_reply, reply)
            else:
                self._h1_reply(reply)

    def _h1_reply(self, reply: Reply) -> None:
        if self.transport.is_closing() or reply.action == "silent":
            return
        if reply.action in ("reset", "goaway"):
            self.transport.abort()
            return
        phrase = (
            HTTPStatus(reply.status).phrase
            if reply.status in HTTPStatus._value2member_map_
            else ""
        )
        head = [f"HTTP/1.1 {reply.status} {phrase}"]
        head += [f"{k}: {v}" for k, v in reply.headers]
        head.append(f"content-length: {len(reply.body)}")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)


def _encode(encode, headers, huffman: bool = True) -> bytes:
    """No Huffman coding (CPU), and unique values kept out of the table."""
    return encode(
        [
            (h[0], h[1], h[0] in NEVER_INDEXED or not getattr(h, "indexable", True))
            for h in headers
        ],
        huffman=False,
    )


class FakeServer:
    """Serve ``handler`` on 127.0.0.1, in the caller's loop or its own thread."""

    def __init__(
        self,
        handler: Handler,
        ssl_context: ssl.SSLContext | None = None,
        max_streams: int = 1000,
        checks: bool = True,
    ) -> None:
        """``checks=False`` (benchmarks) skips h2's header validation."""
        self.handler = handler
        self.ssl_context = ssl_context
        self.max_streams = max_streams
        self.checks = checks
        self.port = 0
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self.handler, self.max_streams, self.checks),
            "127.0.0.1",
            port,
            ssl=self.ssl_context,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def start_in_thread(self, port: int = 0) -> int:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve(port))
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, name="fake-server", daemon=True).start()
        ready.wait(10)
        return self.port

    def stop(self) -> None:
        if self._loop and self._server:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
