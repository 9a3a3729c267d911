"""One pass over one chain: from the checkpoint to head minus confirmations.

Each range is read and checked (``poller.fetch``), linked to the stored
checkpoint (a range that does not link means a reorg: roll back, read
again), decoded, committed with the checkpoint in one transaction, and
only then handed to the dispatch queue. Notifications still pending from a
run that died between commit and hand-off are queued again at the start.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from redis import Redis, RedisError

from app import metrics
from app.config import ChainConfig
from app.logs import bind
from poller.decode import DecodeError, Event, decode_log
from poller.fetch import NodeBehind, RangeRead, RangeReader
from poller.handoff import BackgroundHandOff, enqueue_notifications
from poller.lock import ChainLock
from poller.progress import Progress
from poller.read_ahead import Item, ReadAhead
from poller.reorg import is_canonical, roll_back
from poller.rpc import RpcClient, RpcPolicy
from poller.scanner import Scanner
from poller.store import (
    ConcurrentRun,
    Position,
    PreparedRange,
    advance,
    commit_ranges,
    load_position,
    pending_ids,
    prepare_range,
    prune_final,
    record_head,
)

log = logging.getLogger(__name__)

Enqueue = Callable[[Redis, Sequence[int]], int]

GROUP_EVENTS = 10_000  # events at most in ranges committed together


@contextmanager
def _older_objects_left_out_of_collections() -> Iterator[None]:
    """A backfill allocates tens of thousands of objects a second, and each
    full collection would walk every object the process already held (the
    libraries' among them) again: a tenth of a pass's CPU. They are set
    aside for the pass and handed back to the collector after it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class LockLost(RuntimeError):
    """Our lock expired or was taken over mid-pass."""


@dataclass(frozen=True)
class ChainResult:
    chain_id: int
    outcome: str  # done | busy | behind | failed
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


class ChainRunner:
    def __init__(
        self,
        chain: ChainConfig,
        redis: Redis,
        policy: RpcPolicy | None = None,
        lock_ttl: float = 60.0,
        enqueue: Enqueue = enqueue_notifications,
    ) -> None:
        self.chain = chain
        self.redis = redis
        self.client = RpcClient(chain.rpc_urls, chain.name, policy)
        self.scanner = Scanner(chain, RangeReader(chain, self.client))
        self.lock_ttl = lock_ttl
        self.enqueue = enqueue

    def run_pass(self) -> ChainResult:
        """One pass; never raises for chain trouble, reports it instead."""
        chain_id = self.chain.chain_id
        lock = ChainLock(self.redis, chain_id, self.lock_ttl)
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            message = f"chain {chain_id}: Redis unreachable for the lock: {exc}"
            log.error("%s", message)
            return ChainResult(chain_id, "failed", message)
        if not acquired:
            message = f"chain {chain_id}: another run holds the lock ({lock.holder()})"
            log.info("%s; nothing to do", message)
            return ChainResult(chain_id, "busy", message)
        try:
            with bind(chain=chain_id), _older_objects_left_out_of_collections():
                return self._guarded_pass(lock)
        finally:
            lock.release()

    def close(self) -> None:
        self.client.close()

    def _guarded_pass(self, lock: ChainLock) -> ChainResult:
        chain_id = self.chain.chain_id
        try:
            return self._pass(lock)
        except (ConcurrentRun, LockLost) as exc:
            log.warning("%s; stopping this pass", exc)
            return ChainResult(chain_id, "busy", str(exc))
        except Exception as exc:
            message = str(exc)
            if not message.startswith(f"chain {chain_id}"):
                message = f"chain {chain_id}: {type(exc).__name__}: {message}"
            log.error("pass failed: %s", message, exc_info=True)
            return ChainResult(chain_id, "failed", message)

    def _pass(self, lock: ChainLock) -> ChainResult:
        chain = self.chain
        requeued = self.enqueue(self.redis, pending_ids(chain.chain_id))
        if requeued:
            log.info(
                "chain %s: %d pending notifications queued again",
                chain.chain_id,
                requeued,
            )

        position = load_position(chain.chain_id, chain.start_block)
        head = int(self.client.call("eth_blockNumber"), 16)
        target = head - chain.confirmations
        metrics.CHAIN_HEAD.labels(chain.name).set(head)
        if not is_canonical(self.client, position):
            position = roll_back(self.client, chain, position)

        progress = Progress(chain.chain_id, position.number + 1, target, head)
        handoff = BackgroundHandOff(self.redis, self.enqueue, chain.chain_id)
        try:
            position, outcome = self._ranges(lock, position, target, progress, handoff)
        finally:
            progress.queued = handoff.close()

        prune_final(chain.chain_id, position)
        record_head(chain.chain_id, head)
        metrics.CHAIN_LAG.labels(chain.name).set(max(0, target - position.number))
        # An idle pass (nothing new, as in --follow between blocks) is chatter.
        level = logging.INFO if progress.ranges else logging.DEBUG
        log.log(level, "%s", progress.summary(outcome))
        return ChainResult(chain.chain_id, outcome, progress.summary(outcome))

    def _ranges(
        self,
        lock: ChainLock,
        position: Position,
        target: int,
        progress: Progress,
        handoff: BackgroundHandOff,
    ) -> tuple[Position, str]:
        """Read, check and commit ranges up to ``target``; ranges are read
        ahead in a thread (``poller.read_ahead``), which is closed before a
        reorg is rolled back, since RPC calls never overlap."""
        chain = self.chain
        reads: ReadAhead | None = None
        try:
            while position.number < target:
                if lock.lost.is_set():
                    raise LockLost(f"chain {chain.chain_id}: lock lost")
                if reads is None:
                    reads = ReadAhead(self._read, position.number + 1, target)
                try:
                    read, prepared = reads.next()
                except NodeBehind as exc:
                    log.warning(
                        "%s; stopping at block %d until it catches up",
                        exc,
                        position.number,
                    )
                    return position, "behind"
                if position.hash and read.parent_hash != position.hash:
                    reads.close()
                    reads = None
                    position = roll_back(self.client, chain, position)
                    progress.reorgs += 1
                    continue
                group = self._group(reads, [(read, prepared)])
                position = self._commit(position, group, progress, handoff)
        finally:
            if reads is not None:
                reads.close()
        return position, "done"

    def _read(self, first: int, target: int) -> tuple[RangeRead, PreparedRange]:
        read = self.scanner.read_next(first, target)
        return read, prepare_range(self.chain.chain_id, self._decode(read))

    def _group(self, reads: ReadAhead, group: list[Item]) -> list[Item]:
        """The ranges to commit together: ``group`` and those after it
        already read that link on, up to GROUP_EVENTS events.

        Each commit costs its round trips, a durable flush and a hand-off
        batch whatever its size; only ranges already read are taken, so
        the commit never waits for the node, and a run killed mid-commit
        loses no more than those ranges, read again by the next run.
        """
        events = sum(len(prepared.events) for _, prepared in group)
        while events < GROUP_EVENTS:
            last_hash = group[-1][0].blocks[-1][1]
            item = reads.ready(last_hash)
            if item is None:
                break
            group.append(item)
            events += len(item[1].events)
        return group

    def _commit(
        self,
        position: Position,
        group: list[Item],
        progress: Progress,
        handoff: BackgroundHandOff,
    ) -> Position:
        chain_id = self.chain.chain_id
        after = position
        for read, _ in group:
            after = advance(after, read.blocks)
        commit_ranges(chain_id, position, after, [prepared for _, prepared in group])

        if any(prepared.notifications for _, prepared in group):
            handoff.submit(group[0][0].first, group[-1][0].last)
        for read, prepared in group:
            events = len(prepared.events)
            notifications = len(prepared.notifications)
            log.debug(
                "chain %s: blocks %d-%d committed, %d events, %d notifications",
                chain_id,
                read.first,
                read.last,
                events,
                notifications,
            )
            metrics.LOGS_PROCESSED.labels(self.chain.name).inc(events)
            progress.record(read.last, events, notifications)
        metrics.CHAIN_CHECKPOINT.labels(self.chain.name).set(after.number)
        return after

    def _decode(self, read: RangeRead) -> list[Event]:
        events = []
        for raw in read.logs:
            try:
                event = decode_log(raw, self.chain.chain_id)
            except DecodeError as exc:
                log.warning(
                    "chain %s: log %s:%s not decoded: %s",
                    self.chain.chain_id,
                    raw.get("transactionHash"),
                    raw.get("logIndex"),
                    exc,
                )
                continue
            if event is not None:
                events.append(event)
        return events
