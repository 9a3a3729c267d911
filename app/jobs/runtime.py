"""The worker's long-lived event loop and the push senders that live on it.

RQ jobs are synchronous, but HTTP/2 clients, their connections and their
credentials must outlive a job. One daemon thread runs an asyncio loop for
the whole worker process; jobs hand it coroutines and wait for the result.
Senders are built lazily per (app id, platform); a credential that cannot
be loaded or is refused after renewal disables that pair only, loudly, for
a cool-down, while every other app and platform keeps sending.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any

from app.config import DispatchConfig, PushApp
from app.jobs.apns import ApnsSender
from app.jobs.fcm import CredentialError, FcmSender

log = logging.getLogger(__name__)

DISABLE_FOR = 600.0

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def run(coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
    """Run ``coro`` on the shared loop and return its result."""
    return wait(submit(coro), timeout)


def submit(coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
    return asyncio.run_coroutine_threadsafe(coro, _shared_loop())


def wait(future: concurrent.futures.Future, timeout: float | None = None) -> Any:
    """The result of a submitted coroutine; cancelled if we stop waiting."""
    try:
        return future.result(timeout)
    except BaseException:
        future.cancel()
        raise


def _shared_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or not _loop.is_running():
            _loop = asyncio.new_event_loop()
            ready = threading.Event()
            thread = threading.Thread(
                target=_serve, args=(_loop, ready), name="push-loop", daemon=True
            )
            thread.start()
            ready.wait()
        return _loop


def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


class Disabled(Exception):
    """This app's credential for this platform is unusable right now."""


class Senders:
    """Senders per (app id, platform service), owned by the shared loop."""

    def __init__(self, config: DispatchConfig) -> None:
        self.config = config
        self._senders: dict[tuple[str, str], FcmSender | ApnsSender] = {}
        self._disabled: dict[tuple[str, str], tuple[float, str]] = {}
        self._closing: set[asyncio.Task] = set()

    def get(self, app_id: str, service: str) -> FcmSender | ApnsSender:
        """Must be called on the shared loop (the clients bind to it)."""
        key = (app_id, service)
        if key in self._senders:
            return self._senders[key]
        until, why = self._disabled.get(key, (0.0, ""))
        if time.monotonic() < until:
            raise Disabled(why)
        try:
            sender = self._build(app_id, service)
        except CredentialError as exc:
            self.disable(app_id, service, str(exc))
            raise Disabled(str(exc)) from None
        self._senders[key] = sender
        return sender

    def disable(self, app_id: str, service: str, why: str) -> None:
        log.error(
            "push credential DISABLED for app %s %s for %.0fs: %s",
            app_id,
            service,
            DISABLE_FOR,
            why,
        )
        self._disabled[(app_id, service)] = (time.monotonic() + DISABLE_FOR, why)
        sender = self._senders.pop((app_id, service), None)
        if sender is not None:
            # Called on the shared loop: close in the background, keep a handle.
            task = asyncio.get_running_loop().create_task(sender.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        for sender in self._senders.values():
            await sender.close()
        self._senders.clear()

    def _build(self, app_id: str, service: str) -> FcmSender | ApnsSender:
        app: PushApp | None = self.config.apps.get(app_id)
        if app is None:
            raise CredentialError(f"no push credentials for app id {app_id!r}")
        cfg = self.config
        if service == "fcm":
            if not app.fcm_credentials_file:
                raise CredentialError(f"app {app_id}: FCM_CREDENTIALS_FILE not set")
            return FcmSender(
                app.fcm_credentials_file, cfg.fcm_url, cfg.send_timeout, cfg.concurrency
            )
        if not app.has_apns or not app.apns_topic:
            raise CredentialError(
                f"app {app_id}: APNs key, key id, team or topic unset"
            )
        return ApnsSender(
            key_file=app.apns_key_file,
            key_id=app.apns_key_id,
            team_id=app.apns_team_id,
            topic=app.apns_topic,
            host=cfg.apns_host,
            port=cfg.apns_port,
            ca_file=cfg.apns_ca_file,
            timeout=cfg.send_timeout,
            concurrency=cfg.concurrency,
        )
