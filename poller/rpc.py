"""JSON-RPC over HTTP with failover, resting endpoints and bounded retries.

Endpoints are tried in configured order. One that fails with a transient
error (429, 5xx, timeout, refused connection) is rested for a while, with
jitter, at least as long as its Retry-After; the next one takes over and
the rested one is tried again once its rest is over. Every call gives up
after ``attempts`` transient failures. Errors that retrying cannot fix (a
range too wide, a bad parameter) are raised at once for the caller to act
on. Endpoint URLs may carry API keys, so logs name endpoints by position.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests

from app import metrics
from poller.provider_errors import (
    TRANSIENT,
    Classified,
    Kind,
    classify_http,
    classify_rpc_error,
    parse_retry_after,
)

log = logging.getLogger(__name__)

BATCH_CHUNK = 500


class RpcError(RuntimeError):
    """A classified RPC failure; ``info`` says what kind and what to do."""

    def __init__(self, info: Classified, endpoint: str = "") -> None:
        super().__init__(
            f"{info.kind}: {info.message}" + (f" ({endpoint})" if endpoint else "")
        )
        self.info = info
        self.endpoint = endpoint


class RpcGaveUp(RpcError):
    """Every attempt failed transiently; the last cause is in ``info``."""


@dataclass(frozen=True)
class RpcPolicy:
    timeout: float = 30.0
    attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0


@dataclass
class _Endpoint:
    url: str
    label: str
    rested_until: float = 0.0
    failures: int = 0
    session: requests.Session = field(default_factory=requests.Session)


class RpcClient:
    """Calls one chain's nodes; thread-compatible, not thread-safe."""

    def __init__(
        self, urls: Sequence[str], chain: str, policy: RpcPolicy | None = None
    ) -> None:
        if not urls:
            raise ValueError("at least one RPC URL is needed")
        self.chain = chain
        self.policy = policy or RpcPolicy()
        self.endpoints = [_Endpoint(url, f"rpc#{i}") for i, url in enumerate(urls)]
        self._ids = itertools.count(1)
        self._last: _Endpoint | None = None

    def call(self, method: str, *params: object) -> object:
        """One request; raises RpcError for non-transient errors."""
        (answer,) = self.batch([(method, list(params))], strict=True)
        return answer

    def batch(
        self, calls: Sequence[tuple[str, list]], strict: bool = False
    ) -> list[object]:
        """Many requests answered by one endpoint.

        Results come back in order; a non-transient per-item error is
        returned as an RpcError in its place (or raised when ``strict``).
        A transient error in any item retries the whole batch elsewhere,
        so every result of one batch comes from the same node.
        """
        last: Classified | None = None
        for attempt in range(self.policy.attempts):
            endpoint = self._pick()
            self._last = endpoint
            try:
                results = self._send(endpoint, calls)
            except RpcError as exc:
                if exc.info.kind not in TRANSIENT:
                    raise
                last = exc.info
                self._rest(endpoint, exc.info, attempt)
                continue
            endpoint.failures = 0
            if strict:
                for item in results:
                    if isinstance(item, RpcError):
                        raise item
            return results

        assert last is not None
        raise RpcGaveUp(
            Classified(
                last.kind,
                f"gave up after {self.policy.attempts} attempts: {last.message}",
            )
        )

    def distrust_last(self, info: Classified) -> None:
        """Rest the endpoint that gave the last answer, which the caller
        found wrong (dropped logs, a chain that does not link up)."""
        if self._last is not None:
            self._rest(self._last, info, self._last.failures)

    def close(self) -> None:
        for endpoint in self.endpoints:
            endpoint.session.close()

    def _pick(self) -> _Endpoint:
        """The first endpoint not resting, else wait for the earliest one."""
        now = time.monotonic()
        for endpoint in self.endpoints:
            if endpoint.rested_until <= now:
                return endpoint
        endpoint = min(self.endpoints, key=lambda e: e.rested_until)
        delay = endpoint.rested_until - now
        log.info(
            "chain %s: all RPC endpoints resting, waiting %.1fs", self.chain, delay
        )
        time.sleep(delay)
        return endpoint

    def _rest(self, endpoint: _Endpoint, info: Classified, attempt: int) -> None:
        endpoint.failures += 1
        backoff = min(
            self.policy.backoff_cap,
            self.policy.backoff_base * 2 ** (endpoint.failures - 1),
        )
        delay = backoff * random.uniform(0.5, 1.0)
        if info.retry_after is not None:
            delay = max(delay, min(info.retry_after, self.policy.retry_after_cap))
        endpoint.rested_until = time.monotonic() + delay
        metrics.RPC_ERRORS.labels(self.chain, str(info.kind)).inc()
        log.warning(
            "chain %s: %s failed (%s, attempt %d), resting it %.2fs: %s",
            self.chain,
            endpoint.label,
            info.kind,
            attempt + 1,
            delay,
            info.message[:200],
        )

    def _send(self, endpoint: _Endpoint, calls: Sequence[tuple[str, list]]) -> list:
        results: list[object] = []
        for start in range(0, len(calls), BATCH_CHUNK):
            results.extend(self._post(endpoint, calls[start : start + BATCH_CHUNK]))
        return results

    def _post(self, endpoint: _Endpoint, calls: Sequence[tuple[str, list]]) -> list:
        ids = [next(self._ids) for _ in calls]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        payload = body[0] if len(body) == 1 else body
        answer, retry_after = self._http(endpoint, payload)

        items = answer if isinstance(answer, list) else [answer]
        by_id = {item.get("id"): item for item in items if isinstance(item, dict)}
        if len(body) == 1 and len(items) == 1 and items[0].get("id") is None:
            by_id = {ids[0]: items[0]}  # some proxies drop the id of errors
        return [self._result(by_id.get(i), endpoint, retry_after) for i in ids]

    def _http(self, endpoint: _Endpoint, payload: object) -> tuple[object, str | None]:
        try:
            response = endpoint.session.post(
                endpoint.url,
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
                timeout=self.policy.timeout,
            )
        except requests.Timeout:
            raise RpcError(
                Classified(Kind.TIMEOUT, "request timed out"), endpoint.label
            ) from None
        except requests.RequestException as exc:
            raise RpcError(
                Classified(Kind.UNAVAILABLE, f"transport: {type(exc).__name__}"),
                endpoint.label,
            ) from None

        retry_after = response.headers.get("Retry-After")
        status = response.status_code
        try:
            # From the bytes: requests would decode megabytes of logs to text
            # first, and JSON is UTF-8 by definition.
            answer = json.loads(response.content)
        except ValueError:
            answer = None
        if (
            status == 429
            or status >= 500
            or (status != 200 and not _has_rpc_error(answer))
        ):
            raise RpcError(
                classify_http(status, response.text, retry_after), endpoint.label
            )
        if answer is None:
            raise RpcError(
                Classified(Kind.UNAVAILABLE, "answer is not JSON"), endpoint.label
            )
        if (
            isinstance(answer, dict)
            and "error" in answer
            and not isinstance(payload, dict)
        ):
            # A whole-batch refusal (batch too large, rate limited).
            raise RpcError(
                _classify_error(answer["error"], retry_after), endpoint.label
            )
        return answer, retry_after

    def _result(
        self, item: dict | None, endpoint: _Endpoint, retry_after: str | None
    ) -> object:
        if item is None:
            raise RpcError(
                Classified(Kind.INCONSISTENT, "answer lacks a result for a request"),
                endpoint.label,
            )
        if "error" in item:
            info = _classify_error(item["error"], retry_after)
            if info.kind in TRANSIENT:
                raise RpcError(info, endpoint.label)
            return RpcError(info, endpoint.label)
        return item.get("result")


def _has_rpc_error(answer: object) -> bool:
    if isinstance(answer, dict):
        return "error" in answer
    if isinstance(answer, list):
        return any(isinstance(i, dict) and "error" in i for i in answer)
    return False


def _classify_error(error: object, retry_after: str | None) -> Classified:
    if not isinstance(error, dict):
        return Classified(Kind.FATAL, f"malformed error: {str(error)[:200]}")
    info = classify_rpc_error(
        error.get("code"), str(error.get("message", "")), error.get("data")
    )
    if retry_after is not None and info.kind in TRANSIENT:
        return Classified(
            info.kind, info.message, retry_after=parse_retry_after(retry_after)
        )
    return info
