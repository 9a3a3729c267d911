"""APNs sender: token (.p8) auth over HTTP/2, on our small HTTP/2 client.

aioapns, which we used first, never completed a stream the server reset,
let every new connection mint its own JWT, waited forever on a connection
that went silent and spent a dozen Python-level steps on each request.
The APNs protocol needs none of its machinery once ``http2.py`` handles
connections, streams, resets and GOAWAY: a request is a POST of the body
to ``/3/device/<token>`` with the APNs headers. One JWT per credential is
shared by every connection and renewed at most every 40 minutes (Apple
wants 20 to 60), every send has a deadline, and a connection silent past
the deadline is closed so the pool opens a fresh one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import ssl
import time
import uuid

import jwt

from app.jobs.bounded import post_within
from app.jobs.fcm import CredentialError
from app.jobs.http2 import (
    Http2Pool,
    Response,
)
from app.jobs.outcomes import DELIVERED, Outcome, classify_apns

log = logging.getLogger(__name__)

STREAMS_PER_CONNECTION = 100
# Tokens and ids never repeat: a small table keeps hpack's linear search
# short while the fixed headers, the provider token among them, stay indexed.
HPACK_TABLE = 1024
UNIQUE_HEADERS = frozenset({":path", "apns-id"})
JWT_RENEW_AFTER = 40 * 60
JWT_MIN_AGE = 20 * 60


class SharedJwt:
    """One provider token per credential, shared by every connection.

    Apple refuses a token changed on a connection more often than every 20
    minutes (TooManyProviderTokenUpdates), so connections never mint their
    own. The token is signed and unguessable, and the same on every request
    for 40 minutes, so indexing it in HPACK leaks nothing a compression
    oracle could use; header blocks shrink from about 400 bytes to 140.
    """

    def __init__(self, key: str, key_id: str, team_id: str) -> None:
        self._key, self._key_id, self._team_id = key, key_id, team_id
        self._header: str | None = None
        self.issued_at = 0.0
        self.minted = 0
        self.get_header()  # fail now, naming the credential, if the key is bad

    def get_header(self) -> str:
        if self._header is None or time.time() - self.issued_at > JWT_RENEW_AFTER:
            self.renew()
        return self._header

    def renew(self) -> None:
        now = time.time()
        try:
            token = jwt.encode(
                {"iss": self._team_id, "iat": int(now)},
                self._key,
                algorithm="ES256",
                headers={"kid": self._key_id},
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise CredentialError(f"APNs key {self._key_id}: {exc}") from None
        self._header, self.issued_at = f"bearer {token}", now
        self.minted += 1
        log.info("APNs provider token minted for key %s", self._key_id)


class PushIds:
    """Unique apns-id values without a uuid4 per request.

    A random UUID per sender, its last 48 bits replaced by a counter: still a
    canonical UUID as Apple asks, unique within the sender and unguessable
    across senders, at the cost of a counter step instead of 16 random bytes.
    """

    def __init__(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]
        self._count = itertools.count(int(uuid.uuid4().hex[-12:], 16))

    def next(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFF:012x}"


class ApnsSender:
    platform = "apns"

    def __init__(
        self,
        *,
        key_file: str,
        key_id: str,
        team_id: str,
        topic: str,
        host: str,
        port: int,
        ca_file: str | None,
        timeout: float,
        concurrency: int = 500,
    ) -> None:
        try:
            with open(key_file) as handle:
                key = handle.read()
        except OSError as exc:
            raise CredentialError(f"APNs key file {key_file}: {exc}") from None
        self.auth = SharedJwt(key, key_id, team_id)
        self.topic = topic
        self.timeout = timeout
        context = ssl.create_default_context(cafile=ca_file)
        context.set_alpn_protocols(["h2"])
        self._pool = Http2Pool(
            f"https://{host}:{port}",
            max_connections=concurrency // STREAMS_PER_CONNECTION + 2,
            streams_per_connection=STREAMS_PER_CONNECTION,
            ssl_context=context,
            unique_headers=UNIQUE_HEADERS,
            table_size=HPACK_TABLE,
        )
        self._semaphore = asyncio.Semaphore(concurrency)
        self._ids = PushIds()

    async def send(self, token: str, body: bytes, collapse: str) -> Outcome:
        """Send one push whose body ``messages.apns_body`` made."""
        headers = [
            ("apns-id", self._ids.next()),
            ("apns-topic", self.topic),
            ("apns-priority", "10"),
            ("apns-collapse-id", collapse),
            ("apns-push-type", "alert"),
            ("authorization", self.auth.get_header()),
        ]
        async with self._semaphore:
            response = await post_within(
                self._pool, self.timeout, "/3/device/" + token, headers, body, token
            )
        if isinstance(response, Outcome):
            return response
        if response.status == 200:
            return DELIVERED
        return classify_apns(response.status, _reason(response), response.retry_after)

    async def renew_auth(self) -> None:
        """Mint a new provider token after APNs called ours expired or invalid."""
        self.auth.renew()

    async def close(self) -> None:
        await self._pool.close()


def _reason(response: Response) -> str | None:
    try:
        body = json.loads(response.body)
    except ValueError:
        return None
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else None
