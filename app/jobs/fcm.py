"""FCM HTTP v1 sender: many requests in flight over a few HTTP/2 connections.

We call the v1 ``messages:send`` endpoint ourselves rather than through
pyfcm: pyfcm sends one blocking request at a time, sleeps and retries
without bound on 429 with Retry-After, and hides 404 bodies and 503 storms
behind its own exceptions, so neither its throughput nor its retries can
be bounded the way a worker needs. The transport is our small HTTP/2
client (``http2.py``): httpx cost more CPU per push than everything else a
push does. The OAuth token comes from google-auth and is reused until
shortly before it expires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import google.auth.transport.requests
from google.oauth2 import service_account

from app.jobs.bounded import post_within
from app.jobs.http2 import (
    Http2Pool,
    Response,
)
from app.jobs.messages import FcmBody
from app.jobs.outcomes import DELIVERED, Outcome, classify_fcm

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
# Refresh this long before Google's expiry so no request carries a stale token.
EARLY_REFRESH = 300
MAX_CONNECTIONS = 8
CONTENT_TYPE = "application/json; charset=utf-8"


class CredentialError(Exception):
    """The credential file is missing or unusable: the app/platform is disabled."""


class FcmSender:
    platform = "fcm"

    def __init__(
        self, credentials_file: str, base_url: str, timeout: float, concurrency: int
    ) -> None:
        try:
            with open(credentials_file) as handle:
                info = json.load(handle)
            self.project_id = info["project_id"]
            self._credentials = service_account.Credentials.from_service_account_info(
                info, scopes=[SCOPE]
            )
        except (OSError, ValueError, KeyError) as exc:
            raise CredentialError(
                f"FCM credentials {credentials_file}: {exc}"
            ) from None

        self.path = f"/v1/projects/{self.project_id}/messages:send"
        # Over plain http (the local fake) HTTP/2 is spoken with prior knowledge.
        self._pool = Http2Pool(base_url, max_connections=MAX_CONNECTIONS)
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._semaphore = asyncio.Semaphore(concurrency)
        self.refreshes = 0

    async def send(self, token: str, message: FcmBody) -> Outcome:
        """Send one push; every way the request can fail becomes an outcome."""
        body = message.for_token(token)
        async with self._semaphore:
            headers = [
                ("authorization", f"Bearer {await self._access_token()}"),
                ("content-type", CONTENT_TYPE),
                ("content-length", str(len(body))),
            ]
            response = await post_within(
                self._pool, self.timeout, self.path, headers, body, token
            )
        if isinstance(response, Outcome):
            return response
        if response.status == 200:
            return DELIVERED
        return classify_fcm(response.status, _json(response), response.retry_after)

    async def renew_auth(self) -> None:
        """Fetch a new OAuth token now (after FCM refused the current one)."""
        async with self._lock:
            await asyncio.to_thread(self._refresh)

    async def close(self) -> None:
        await self._pool.close()

    async def _access_token(self) -> str:
        if self._fresh():
            return self._credentials.token
        async with self._lock:
            if not self._fresh():
                await asyncio.to_thread(self._refresh)
        return self._credentials.token

    def _fresh(self) -> bool:
        # google-auth keeps the expiry as a naive UTC datetime.
        expiry = self._credentials.expiry
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return bool(self._credentials.token) and (
            expiry is None or (expiry - now).total_seconds() > EARLY_REFRESH
        )

    def _refresh(self) -> None:
        try:
            self._credentials.refresh(google.auth.transport.requests.Request())
        except Exception as exc:  # google-auth raises many kinds here
            raise CredentialError(f"FCM OAuth token refresh failed: {exc}") from None
        self.refreshes += 1
        log.info("FCM OAuth token refreshed for project %s", self.project_id)


def _json(response: Response) -> object:
    try:
        return json.loads(response.body)
    except ValueError:
        return {}
