"""Range sizing: how many blocks to ask for, and what to do when refused.

Ranges are inclusive and never wider than the chain's ``max_range``. A
provider's suggested range is used when it starts where we asked and is
smaller; a suggestion equal to the request, one that makes no sense, or
one that itself failed, is bisected instead. A stated block limit becomes
the ceiling for the rest of the run; result caps only shrink the current
width, which doubles back after consecutive successes. Each range gets a
bounded number of tries and then fails with chain, range and cause.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app import metrics
from app.config import ChainConfig
from poller.fetch import NodeBehind, RangeRead, RangeReader
from poller.provider_errors import SHRINKABLE, Classified, Kind
from poller.rpc import RpcError, RpcGaveUp

log = logging.getLogger(__name__)

MAX_TRIES = 40
MAX_INCONSISTENT = 8
GROW_AFTER = 2


class RangeFailed(RuntimeError):
    """A range could not be read within the bounded number of tries."""

    def __init__(self, chain_id: int, first: int, last: int, cause: str) -> None:
        super().__init__(f"chain {chain_id}: blocks {first}-{last} failed: {cause}")
        self.chain_id = chain_id
        self.first = first
        self.last = last
        self.cause = cause


@dataclass
class Width:
    current: int
    ceiling: int
    successes: int = 0

    def succeeded(self) -> None:
        self.successes += 1
        if self.successes >= GROW_AFTER and self.current < self.ceiling:
            self.current = min(self.ceiling, self.current * 2)
            self.successes = 0

    def shrink_to(self, width: int) -> None:
        self.current = max(1, min(width, self.ceiling))
        self.successes = 0


class Scanner:
    """Reads successive ranges of one chain, sizing them to the provider."""

    def __init__(self, chain: ChainConfig, reader: RangeReader) -> None:
        self.chain = chain
        self.reader = reader
        self.width = Width(chain.max_range, chain.max_range)

    def read_next(self, first: int, target: int) -> RangeRead:
        """The next range starting at ``first``, ending at most at ``target``."""
        last = min(target, first + self.width.current - 1)
        followed_suggestion = False
        cause = "no attempt made"
        inconsistent = 0
        for _ in range(MAX_TRIES):
            metrics.RANGE_WIDTH.labels(self.chain.name).set(last - first + 1)
            try:
                read = self.reader.read(first, last)
            except RpcGaveUp as exc:
                raise RangeFailed(self.chain.chain_id, first, last, str(exc)) from None
            except RpcError as exc:
                cause = str(exc)
                if exc.info.kind is Kind.INCONSISTENT:
                    inconsistent += 1
                    if inconsistent >= MAX_INCONSISTENT:
                        break
                last, followed_suggestion = self._after_refusal(
                    first, last, exc.info, followed_suggestion
                )
                continue
            self.width.succeeded()
            return read
        raise RangeFailed(
            self.chain.chain_id, first, last, f"too many tries, last: {cause}"
        )

    def _after_refusal(
        self, first: int, last: int, info: Classified, followed: bool
    ) -> tuple[int, bool]:
        """The ``last`` block to try next, and whether it was suggested."""
        metrics.RPC_ERRORS.labels(self.chain.name, str(info.kind)).inc()
        if info.kind is Kind.INCONSISTENT:
            log.warning(
                "chain %s: blocks %d-%d answered inconsistently (%s), retrying",
                self.chain.chain_id,
                first,
                last,
                info.message,
            )
            self.reader.client.distrust_last(info)
            return last, False
        if info.kind not in SHRINKABLE:
            raise RangeFailed(self.chain.chain_id, first, last, info.message)
        if last == first:
            if info.kind is Kind.BEYOND_HEAD:
                raise NodeBehind(
                    f"chain {self.chain.chain_id}: node refuses block {first}"
                )
            raise RangeFailed(
                self.chain.chain_id,
                first,
                last,
                f"refused even one block: {info.message}",
            )

        if info.kind is Kind.RANGE_TOO_WIDE and info.limit:
            self.width.ceiling = max(1, min(self.width.ceiling, info.limit))
        new_last, suggested = self._shrunk(first, last, info, followed)
        self.width.shrink_to(new_last - first + 1)
        log.info(
            "chain %s: blocks %d-%d refused (%s%s); trying %d-%d",
            self.chain.chain_id,
            first,
            last,
            info.kind,
            ", provider's suggestion" if suggested else "",
            first,
            new_last,
        )
        return new_last, suggested

    def _shrunk(
        self, first: int, last: int, info: Classified, followed: bool
    ) -> tuple[int, bool]:
        if info.suggested and not followed:
            start, end = info.suggested
            if start == first and first <= end < last:
                return end, True
        if info.limit and first + info.limit - 1 < last:
            return first + info.limit - 1, False
        return first + (last - first) // 2, False
