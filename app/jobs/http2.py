"""A small asyncio HTTP/2 client for one request/response API (FCM, APNs).

httpx spent more CPU per FCM request than the whole rest of a push (its
pool, request models and locks around every stream), aioapns added a
dozen Python-level steps per APNs request and had to be patched for resets
and silence, and a push needs little of either: a few long-lived
connections to one origin, many streams on each, h2 flow control, and
each way a request can be lost named. A stream the server resets fails
with ``StreamReset``; a lost connection fails its streams with
``ConnectionLost``; a request a GOAWAY says was never processed is sent
once more on a fresh connection. Deadlines belong to the caller
(``asyncio.timeout``); ``close_silent`` closes the connections that
answered nothing for a whole deadline, so the next request opens a new
one. Connections and their header encoding come from ``http2_headers``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlparse

import h2.errors
import h2.events
import h2.exceptions
from h2.settings import SettingCodes

from app.jobs.http2_headers import HPACK_TABLE, client_connection

log = logging.getLogger(__name__)

# Responses are small, but let the server send many at once.
RECEIVE_WINDOW = 1 << 24


class StreamReset(Exception):
    """The server reset the request's stream (RST_STREAM)."""


class ConnectionLost(Exception):
    """The connection closed before the answer came."""


class Unprocessed(Exception):
    """A GOAWAY says the server never processed the request: safe to resend."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    @property
    def retry_after(self) -> str | None:
        """The Retry-After header as text, for the answer's classification."""
        value = self.headers.get(b"retry-after")
        return value.decode("latin-1") if value else None


@dataclass(slots=True)
class _Stream:
    future: asyncio.Future
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection; its streams complete futures as answers arrive."""

    def __init__(self, conn, on_stream_done, on_retired, max_streams: int) -> None:
        self.conn = conn
        self.streams: dict[int, _Stream] = {}
        self.max_streams = max_streams
        # Ours, or the server's SETTINGS_MAX_CONCURRENT_STREAMS if lower.
        self.limit = max_streams
        self.accepting = False
        self.last_activity = time.monotonic()
        self.transport: asyncio.Transport | None = None
        self._on_stream_done = on_stream_done
        self._on_retired = on_retired
        self._flush_pending = False
        self._window_waiters: list[asyncio.Future] = []

    @property
    def capacity(self) -> int:
        if not self.accepting:
            return 0
        return self.limit - len(self.streams)

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(RECEIVE_WINDOW)
        self.accepting = True
        self.flush()

    async def request(self, headers: list[tuple[str, str]], body: bytes) -> Response:
        stream_id = self.conn.get_next_available_stream_id()
        stream = _Stream(self.loop.create_future())
        self.streams[stream_id] = stream
        try:
            self.conn.send_headers(stream_id, headers, end_stream=not body)
            if body:
                await self._send_body(stream_id, body)
            self.flush()
            return await stream.future
        except BaseException:
            # A deadline, or h2 refusing the request: free the stream.
            self._abandon(stream_id)
            raise

    async def _send_body(self, stream_id: int, body: bytes) -> None:
        window = min(
            self.conn.local_flow_control_window(stream_id),
            self.conn.max_outbound_frame_size,
        )
        if len(body) <= window:  # a push body: one frame, sent at once
            self.conn.send_data(stream_id, body, end_stream=True)
            return
        view = memoryview(body)
        while view:
            window = min(
                self.conn.local_flow_control_window(stream_id),
                self.conn.max_outbound_frame_size,
            )
            if window <= 0:
                await self._window_opened()
                continue
            chunk, view = view[:window], view[window:]
            self.conn.send_data(stream_id, chunk.tobytes(), end_stream=not view)

    async def _window_opened(self) -> None:
        self.flush()
        waiter = self.loop.create_future()
        self._window_waiters.append(waiter)
        await waiter

    def _abandon(self, stream_id: int) -> None:
        """The caller gave up (deadline): free the stream on both ends."""
        if self.streams.pop(stream_id, None) is None:
            return
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
                self.flush()
            except h2.exceptions.H2Error:
                pass
        self._stream_done()

    def flush(self) -> None:
        """Write once per loop iteration, however many requests were queued."""
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._write)

    def _write(self) -> None:
        self._flush_pending = False
        if self.transport is None or self.transport.is_closing():
            return
        data = self.conn.data_to_send()
        if data:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.last_activity = time.monotonic()
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            log.warning("HTTP/2 protocol error, closing the connection: %r", exc)
            self.close()
            return
        for event in events:
            self._dispatch(event)
        self.flush()

    def _dispatch(self, event: h2.events.Event) -> None:
        kind = type(event)
        if kind is h2.events.ResponseReceived:
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.headers = dict(event.headers)
                stream.status = int(stream.headers.get(b":status", b"0"))
        elif kind is h2.events.DataReceived:
            self.conn.acknowledge_received_data(
                event.flow_controlled_length, event.stream_id
            )
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.body.extend(event.data)
        elif kind is h2.events.StreamEnded:
            self._finish(event.stream_id)
        elif kind is h2.events.StreamReset:
            self._fail(event.stream_id, StreamReset(f"stream {event.stream_id}"))
        elif kind is h2.events.WindowUpdated:
            self._wake_window_waiters()
        elif kind is h2.events.RemoteSettingsChanged:
            self._settings_changed(event.changed_settings)
        elif kind is h2.events.ConnectionTerminated:
            self._goaway(event.last_stream_id)

    def _settings_changed(self, changed: dict) -> None:
        streams = changed.get(SettingCodes.MAX_CONCURRENT_STREAMS)
        if streams is not None:
            self.limit = min(streams.new_value, self.max_streams)
        if SettingCodes.INITIAL_WINDOW_SIZE in changed:
            self._wake_window_waiters()

    def _finish(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if not stream.future.done():
            stream.future.set_result(
                Response(stream.status, stream.headers, bytes(stream.body))
            )
        self._stream_done()

    def _fail(self, stream_id: int, exc: Exception) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if not stream.future.done():
            stream.future.set_exception(exc)
        self._stream_done()

    def _stream_done(self) -> None:
        self._on_stream_done()
        if not self.accepting and not self.streams:
            self.close()

    def _goaway(self, last_stream_id: int | None) -> None:
        """No new streams here; those past ``last_stream_id`` were never seen."""
        self.accepting = False
        self._on_retired(self)
        last = last_stream_id if last_stream_id is not None else 0
        log.info("HTTP/2 GOAWAY received (last stream %s)", last)
        for stream_id in [s for s in self.streams if s > last]:
            self._fail(stream_id, Unprocessed(f"stream {stream_id} after GOAWAY"))
        if not self.streams:
            self.close()

    def _wake_window_waiters(self, exc: Exception | None = None) -> None:
        waiters, self._window_waiters = self._window_waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    def close(self) -> None:
        self.accepting = False
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.conn.close_connection()
                self.transport.write(self.conn.data_to_send())
            except h2.exceptions.H2Error:
                pass
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.accepting = False
        lost = ConnectionLost(str(exc) if exc else "connection closed")
        for stream_id in list(self.streams):
            self._fail(stream_id, lost)
        self._wake_window_waiters(lost)
        self._on_retired(self)


class Http2Pool:
    """Connections to one origin, opened as streams run out, reused for ever."""

    def __init__(
        self,
        base_url: str,
        max_connections: int = 8,
        streams_per_connection: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        unique_headers: frozenset[str] = frozenset(),
        table_size: int = HPACK_TABLE,
    ) -> None:
        url = urlparse(base_url)
        self.scheme = url.scheme
        self.host = url.hostname or ""
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.authority = url.netloc
        if self.scheme == "https" and ssl_context is None:
            ssl_context = ssl.create_default_context()
            ssl_context.set_alpn_protocols(["h2"])
        self._ssl = ssl_context if self.scheme == "https" else None
        self._max_connections = max_connections
        self._streams = streams_per_connection
        self._new_conn = partial(client_connection, unique_headers, table_size)
        self._connections: list[_Connection] = []
        self._opening = 0
        self._waiters: deque[asyncio.Future] = deque()

    async def post(
        self, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        """POST ``body``; a request a GOAWAY left unprocessed is sent once more."""
        request = [
            (":method", "POST"),
            (":scheme", self.scheme),
            (":authority", self.authority),
            (":path", path),
            *headers,
        ]
        try:
            return await (await self._acquire()).request(request, body)
        except Unprocessed:
            return await (await self._acquire()).request(request, body)

    def close_silent(self, seconds: float) -> None:
        """Close connections that answered nothing for ``seconds``."""
        now = time.monotonic()
        for connection in list(self._connections):
            if now - connection.last_activity > seconds:
                log.warning("HTTP/2 connection silent for %.0fs: closing", seconds)
                connection.close()
                self._forget(connection)

    async def close(self) -> None:
        for connection in list(self._connections):
            connection.close()
        self._connections.clear()

    async def _acquire(self) -> _Connection:
        while True:
            for connection in self._connections:
                if connection.capacity > 0:
                    return connection
            if len(self._connections) + self._opening < self._max_connections:
                return await self._open()
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    async def _open(self) -> _Connection:
        self._opening += 1
        try:
            _, connection = await asyncio.get_running_loop().create_connection(
                partial(
                    _Connection,
                    self._new_conn(),
                    self._stream_done,
                    self._forget,
                    self._streams,
                ),
                self.host,
                self.port,
                ssl=self._ssl,
            )
        finally:
            self._opening -= 1
        if self._ssl is not None:
            alpn = connection.transport.get_extra_info("ssl_object")
            if alpn is None or alpn.selected_alpn_protocol() != "h2":
                connection.close()
                raise ConnectionLost(f"{self.authority} did not agree to HTTP/2")
        self._connections.append(connection)
        log.info("HTTP/2 connection to %s opened", self.authority)
        return connection

    def _stream_done(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _forget(self, connection: _Connection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
        # Whoever waited for a stream may now open a connection instead.
        self._stream_done()
