"""Fetch notification payloads from IPFS gateways, bounded and verified.

Gateways are tried in order. Each answer is read up to a byte limit within
a deadline and accepted only if it hashes to the CID, so one slow, broken or
lying gateway costs one attempt, not a wrong push. Verified content is
cached by CID: content addressed by hash never changes.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import httpx

from app.jobs.cid import InvalidCid, parse_cid
from app.jobs.identity import Skip

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """No gateway answered in time; worth retrying later, a bounded number of times."""


class IpfsFetcher:
    def __init__(
        self,
        gateways: tuple[str, ...],
        timeout: float = 5.0,
        max_bytes: int = 65536,
        cache_size: int = 512,
    ) -> None:
        self.gateways = tuple(g.rstrip("/") for g in gateways)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def fetch(self, cid_text: str) -> bytes:
        """Return the verified content of ``cid_text``.

        Raises Skip for content that can never be delivered (bad CID, too
        big, wrong bytes everywhere) and Unavailable when gateways failed.
        """
        cid_text = cid_text.strip()
        if cid_text in self._cache:
            self._cache.move_to_end(cid_text)
            return self._cache[cid_text]
        try:
            cid = parse_cid(cid_text)
        except InvalidCid as exc:
            raise Skip(f"bad IPFS CID: {exc}") from None

        problems: list[str] = []
        refused: list[str] = []
        for gateway in self.gateways:
            try:
                content = self._get(gateway, cid_text)
            except _TooBig:
                # Either the content is too big or the gateway lies: in both
                # cases another gateway cannot make it fit, but may be honest.
                refused.append(f"{gateway}: over {self.max_bytes} bytes")
                continue
            except (httpx.HTTPError, _BadAnswer) as exc:
                problems.append(f"{gateway}: {exc}")
                log.warning("gateway %s failed for %s: %s", gateway, cid_text, exc)
                continue
            if not cid.matches(content):
                refused.append(f"{gateway}: content does not match the CID")
                log.warning("gateway %s sent bytes not matching %s", gateway, cid_text)
                continue
            self._remember(cid_text, content)
            return content

        if refused and not problems:
            raise Skip(f"IPFS {cid_text} refused: " + "; ".join(refused))
        raise Unavailable("; ".join(problems)[:400] or "no IPFS gateway configured")

    def _get(self, gateway: str, cid_text: str) -> bytes:
        deadline = time.monotonic() + self.timeout
        url = f"{gateway}/ipfs/{cid_text}"
        with self._client.stream("GET", url) as response:
            if response.status_code != 200:
                raise _BadAnswer(f"HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise _TooBig()
                if time.monotonic() > deadline:
                    raise _BadAnswer("too slow")
                chunks.append(chunk)
        return b"".join(chunks)

    def _remember(self, cid_text: str, content: bytes) -> None:
        self._cache[cid_text] = content
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


class _TooBig(Exception):
    pass


class _BadAnswer(Exception):
    pass
