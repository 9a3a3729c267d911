"""Finding where the node's chain and ours part, and rolling back to it.

The checkpoint keeps the (number, hash) of recently processed blocks.
When the stored checkpoint hash is no longer canonical, or a new range
does not link to it, those pairs are compared with the node's blocks,
newest first; the newest one that still matches is the common ancestor.
Everything above it is undone in one transaction and read again.
"""

from __future__ import annotations

import logging

from app import metrics
from app.config import ChainConfig
from poller.rpc import RpcClient
from poller.store import Position, rollback_to

log = logging.getLogger(__name__)


class DeepReorg(RuntimeError):
    """No recent block matches: the fork is deeper than we remember."""


def is_canonical(client: RpcClient, position: Position) -> bool:
    if not position.stored or not position.hash:
        return True
    header = client.call("eth_getBlockByNumber", hex(position.number), False)
    return bool(header) and header["hash"].lower() == position.hash


def find_ancestor(
    client: RpcClient, chain: ChainConfig, position: Position
) -> Position:
    recent = list(position.recent)
    headers = client.batch(
        [("eth_getBlockByNumber", [hex(n), False]) for n, _ in recent], strict=True
    )
    for index in range(len(recent) - 1, -1, -1):
        number, block_hash = recent[index]
        header = headers[index]
        if header and header["hash"].lower() == block_hash:
            return Position(number, block_hash, tuple(recent[: index + 1]), stored=True)
    if recent and recent[0][0] == chain.start_block:
        # We remember every block since the start: the fork is below it,
        # so everything we processed is orphaned; start over.
        return Position(chain.start_block - 1, None, (), stored=True)
    raise DeepReorg(
        f"chain {chain.chain_id}: none of the last {len(recent)} processed blocks "
        f"(down to {recent[0][0] if recent else position.number}) is canonical any more"
    )


def roll_back(client: RpcClient, chain: ChainConfig, position: Position) -> Position:
    """Undo the orphaned blocks above the common ancestor; return it."""
    ancestor = find_ancestor(client, chain, position)
    depth = position.number - ancestor.number
    cancelled = rollback_to(chain.chain_id, position, ancestor)

    metrics.REORGS.labels(chain.name).inc()
    metrics.REORG_DEPTH.labels(chain.name).observe(depth)
    log.warning(
        "chain %s: reorg of %d blocks, back to %d (%s); %d pending notifications "
        "cancelled, blocks %d-%d will be read again",
        chain.chain_id,
        depth,
        ancestor.number,
        ancestor.hash,
        cancelled,
        ancestor.number + 1,
        position.number,
    )
    return ancestor
