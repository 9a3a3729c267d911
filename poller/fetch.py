"""Read one block range and check the node can vouch for the answer.

Logs and the header of every block in the range are asked of the same
node in one batch. The answer is accepted only if the headers form one
chain, every log sits in the block its header names, and no block whose
bloom announces our logs came back empty (a node that drops logs). Blocks
the node has not got yet (no header) end the range early: the poller never
advances past a block whose logs the node could not vouch for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter

from eth_utils import keccak

from app.config import ChainConfig
from poller.decode import all_topics
from poller.provider_errors import Classified, Kind
from poller.rpc import RpcClient, RpcError

log = logging.getLogger(__name__)


class NodeBehind(RuntimeError):
    """The node has not got the first block asked for."""


@dataclass(frozen=True)
class RangeRead:
    first: int
    last: int
    parent_hash: str  # of block ``first``: links the range to the checkpoint
    blocks: tuple[tuple[int, str], ...]  # (number, hash), first..last
    logs: tuple[dict, ...]  # sorted by (block, log index), none removed


def _bloom_bits(value: bytes) -> int:
    digest = keccak(value)
    mask = 0
    for i in (0, 2, 4):
        mask |= 1 << (((digest[i] << 8) | digest[i + 1]) & 2047)
    return mask


class RangeReader:
    """Reads ranges of one chain's EPNS contracts through an RpcClient."""

    def __init__(self, chain: ChainConfig, client: RpcClient) -> None:
        self.chain = chain
        self.client = client
        self.addresses = [a for a in (chain.comm_address, chain.core_address) if a]
        self.topics = all_topics()

    @cached_property
    def _address_bits(self) -> list[int]:
        return [_bloom_bits(bytes.fromhex(a[2:])) for a in self.addresses]

    @cached_property
    def _topic_bits(self) -> list[int]:
        return [_bloom_bits(bytes.fromhex(t[2:])) for t in self.topics]

    def log_filter(self, first: int, last: int) -> dict:
        return {
            "fromBlock": hex(first),
            "toBlock": hex(last),
            "address": self.addresses,
            "topics": [self.topics],
        }

    def read(self, first: int, last: int) -> RangeRead:
        """Logs and block hashes of [first, last], or a classified RpcError."""
        calls = [("eth_getLogs", [self.log_filter(first, last)])]
        calls += [
            ("eth_getBlockByNumber", [hex(n), False]) for n in range(first, last + 1)
        ]
        logs, *headers = self.client.batch(calls)
        if isinstance(logs, RpcError):
            raise logs
        for header in headers:
            if isinstance(header, RpcError):
                raise header

        headers = self._known_headers(first, last, headers)
        last = first + len(headers) - 1
        blocks = self._linked(headers)
        kept = self._checked_logs(logs, blocks, last)
        self._check_blooms(headers, kept)
        return RangeRead(first, last, headers[0]["parentHash"].lower(), blocks, kept)

    def _known_headers(self, first: int, last: int, headers: list) -> list[dict]:
        known = []
        for header in headers:
            if not header:
                break
            known.append(header)
        if not known:
            raise NodeBehind(f"chain {self.chain.chain_id}: node has no block {first}")
        if len(known) < len(headers):
            log.warning(
                "chain %s: node lacks blocks %d-%d it reported; range cut to %d-%d",
                self.chain.chain_id,
                first + len(known),
                last,
                first,
                first + len(known) - 1,
            )
        return known

    def _linked(self, headers: list[dict]) -> tuple[tuple[int, str], ...]:
        blocks = tuple((int(h["number"], 16), h["hash"].lower()) for h in headers)
        for (_, parent), header in zip(blocks, headers[1:], strict=False):
            if header["parentHash"].lower() != parent:
                raise _inconsistent(
                    f"block {int(header['number'], 16)} does not link to its parent"
                )
        return blocks

    def _checked_logs(self, logs: list, blocks: tuple, last: int) -> tuple[dict, ...]:
        hashes = dict(blocks)
        # (tx hash, log index) -> ((block, log index), log): the position is
        # parsed once, for the check and for the sort.
        kept: dict[tuple[str, int], tuple[tuple[int, int], dict]] = {}
        removed = 0
        for entry in logs or ():
            if entry.get("removed"):
                removed += 1
                continue
            number = int(entry["blockNumber"], 16)
            if number > last:
                continue
            if hashes.get(number) != entry["blockHash"].lower():
                raise _inconsistent(
                    f"log in block {number} carries a non-canonical hash"
                )
            index = int(entry["logIndex"], 16)
            kept[(entry["transactionHash"], index)] = ((number, index), entry)
        if removed:
            log.info("chain %s: ignored %d removed logs", self.chain.chain_id, removed)
        return tuple(entry for _, entry in sorted(kept.values(), key=itemgetter(0)))

    def _check_blooms(self, headers: list[dict], logs: tuple[dict, ...]) -> None:
        """Re-ask any block whose bloom announces our logs but gave none."""
        with_logs = {int(entry["blockNumber"], 16) for entry in logs}
        suspects = [
            h["hash"]
            for h in headers
            if int(h["number"], 16) not in with_logs
            and self._announces(h.get("logsBloom"))
        ]
        if not suspects:
            return
        answers = self.client.batch(
            [("eth_getLogs", [self._by_hash(block_hash)]) for block_hash in suspects]
        )
        for block_hash, answer in zip(suspects, answers, strict=True):
            if isinstance(answer, RpcError):
                raise answer
            if any(not entry.get("removed") for entry in answer or ()):
                raise _inconsistent(f"node left out the logs of block {block_hash}")

    def _announces(self, bloom: str | None) -> bool:
        if not bloom:
            return False
        value = int(bloom, 16)
        if not value:
            return False
        has_address = any(value & bits == bits for bits in self._address_bits)
        return has_address and any(value & bits == bits for bits in self._topic_bits)

    def _by_hash(self, block_hash: str) -> dict:
        return {
            "blockHash": block_hash,
            "address": self.addresses,
            "topics": [self.topics],
        }


def _inconsistent(message: str) -> RpcError:
    return RpcError(Classified(Kind.INCONSISTENT, message))
