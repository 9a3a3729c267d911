"""Deploy our EPNS-compatible contracts to anvil and drive them.

``deploy_epns`` puts EpnsComm and EpnsCore on a local chain; ``EpnsDriver``
sends the real transactions a channel owner, a user or the admin would send,
so the poller, the dispatch jobs and the demo see genuine logs. Everything
is sent from anvil's first unlocked account: the contracts are emitters that
take the acting addresses as arguments, so no impersonation is needed.

``python -m devstack.chain deploy --rpc URL --out var/chains.json`` deploys
and writes the chains file that ``app.config`` reads.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from eth_abi import encode
from eth_utils import keccak

from devstack.solidity import load_artifact

SINGLE_GAS = 2_000_000
BATCH_GAS = 16_000_000
MINE_CHUNK = 500


class ChainError(RuntimeError):
    """The node refused a call or a transaction reverted."""


@dataclass(frozen=True)
class EpnsDeployment:
    chain_id: int
    core: str
    comm: str
    deploy_block: int
    admin: str


class Rpc:
    """A minimal JSON-RPC client for development tools (not the poller's)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._session = requests.Session()
        self._ids = itertools.count(1)

    def call(self, method: str, *params: object) -> object:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        body["params"] = list(params)
        answer = self._session.post(self.url, json=body, timeout=60).json()
        if "error" in answer:
            raise ChainError(f"{method}: {answer['error']}")
        return answer["result"]

    def close(self) -> None:
        self._session.close()


def deploy_epns(rpc_url: str) -> EpnsDeployment:
    """Deploy Comm, then Core pointing at it; the admin is account 0."""
    rpc = Rpc(rpc_url)
    admin = rpc.call("eth_accounts")[0].lower()
    comm = _deploy(rpc, admin, load_artifact("EpnsComm")["bytecode"])
    core_args = encode(["address", "address"], [comm, admin]).hex()
    core = _deploy(rpc, admin, load_artifact("EpnsCore")["bytecode"] + core_args)
    block = int(rpc.call("eth_blockNumber"), 16)
    chain_id = int(rpc.call("eth_chainId"), 16)
    rpc.close()
    return EpnsDeployment(chain_id, core, comm, block, admin)


def _deploy(rpc: Rpc, sender: str, code: str) -> str:
    tx = rpc.call(
        "eth_sendTransaction", {"from": sender, "data": code, "gas": hex(6_000_000)}
    )
    receipt = _receipt(rpc, tx)
    return receipt["contractAddress"].lower()


def _receipt(rpc: Rpc, tx_hash: str, timeout: float = 30.0) -> dict:
    """Wait for the receipt: anvil answers before a big block is mined."""
    deadline = time.monotonic() + timeout
    receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
    while receipt is None and time.monotonic() < deadline:
        time.sleep(0.02)
        receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
    if receipt is None:
        raise ChainError(f"{tx_hash} not mined: is anvil automining?")
    if int(receipt["status"], 16) != 1:
        raise ChainError(f"{tx_hash} reverted")
    return receipt


def chain_entry(deployment: EpnsDeployment, rpc_url: str, **overrides) -> dict:
    """One chain object in the form ``app.config.parse_chains`` reads."""
    entry = {
        "chain_id": deployment.chain_id,
        "name": "anvil",
        "rpc_urls": [rpc_url],
        "core_address": deployment.core,
        "comm_address": deployment.comm,
        "start_block": deployment.deploy_block,
        "confirmations": 0,
        "max_range": 2000,
        "identity_cutover_block": 0,
    }
    entry.update(overrides)
    return entry


def write_chains_file(
    path: str | Path, deployment: EpnsDeployment, rpc_url: str, **overrides
) -> Path:
    """Write a one-chain CHAINS_FILE for a local deployment."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = chain_entry(deployment, rpc_url, **overrides)
    path.write_text(json.dumps([entry], indent=2) + "\n")
    return path


def load_deployment(path: str | Path) -> EpnsDeployment:
    """The local deployment a chains file describes (its first chain)."""
    entry = json.loads(Path(path).read_text())[0]
    rpc = Rpc(entry["rpc_urls"][0])
    admin = rpc.call("eth_accounts")[0].lower()
    rpc.close()
    return EpnsDeployment(
        entry["chain_id"],
        entry["core_address"],
        entry["comm_address"],
        entry["start_block"],
        admin,
    )


def _selector(signature: str) -> str:
    return keccak(text=signature)[:4].hex()


class EpnsDriver:
    """Sends real transactions to the deployed contracts; returns tx hashes."""

    def __init__(self, rpc_url: str, deployment: EpnsDeployment) -> None:
        self.rpc = Rpc(rpc_url)
        self.deployment = deployment
        self.sender = deployment.admin

    # Core
    def add_channel(self, channel: str, identity: bytes, channel_type: int = 2) -> str:
        return self._core(
            "addChannel(address,uint8,bytes)", channel, channel_type, identity
        )

    def add_channel_alpha(self, channel: str, identity: bytes) -> str:
        return self._core("addChannelAlpha(address,bytes)", channel, identity)

    def update_channel(self, channel: str, identity: bytes, amount: int = 0) -> str:
        return self._core(
            "updateChannel(address,bytes,uint256)", channel, identity, amount
        )

    def update_channel_alpha(self, channel: str, identity: bytes) -> str:
        return self._core("updateChannelAlpha(address,bytes)", channel, identity)

    def deactivate_channel(self, channel: str, refunded: int = 0) -> str:
        return self._core("deactivateChannel(address,uint256)", channel, refunded)

    def deactivate_channel_alpha(self, channel: str) -> str:
        return self._core("deactivateChannelAlpha(address)", channel)

    def reactivate_channel(self, channel: str, deposited: int = 0) -> str:
        return self._core("reactivateChannel(address,uint256)", channel, deposited)

    def block_channel(self, channel: str) -> str:
        return self._core("blockChannel(address)", channel)

    def verify_channel(self, channel: str, verifier: str | None = None) -> str:
        verifier = verifier or self.deployment.admin
        return self._core("verifyChannel(address,address)", channel, verifier)

    def unverify_channel(self, channel: str, revoker: str | None = None) -> str:
        revoker = revoker or self.deployment.admin
        return self._core("unverifyChannel(address,address)", channel, revoker)

    def destroy_channel(self, channel: str, refunded: int = 0) -> str:
        return self._core("destroyTimeBoundChannel(address,uint256)", channel, refunded)

    def emit_core(self, topics: Sequence[bytes], data: bytes = b"") -> str:
        """Emit any raw log from Core (forms no function covers)."""
        return self._core("emitRaw(bytes32[],bytes)", list(topics), data)

    # Comm
    def subscribe(self, channel: str, user: str) -> str:
        return self._comm("subscribe(address,address)", channel, user)

    def unsubscribe(self, channel: str, user: str) -> str:
        return self._comm("unsubscribe(address,address)", channel, user)

    def add_delegate(self, channel: str, delegate: str) -> str:
        return self._comm("addDelegate(address,address)", channel, delegate)

    def remove_delegate(self, channel: str, delegate: str) -> str:
        return self._comm("removeDelegate(address,address)", channel, delegate)

    def register_public_key(self, owner: str, key: bytes) -> str:
        return self._comm("registerPublicKey(address,bytes)", owner, key)

    def add_channel_alias(
        self, chain_name: str, chain_id: int, owner: str, eth_channel: str
    ) -> str:
        return self._comm(
            "addChannelAlias(string,uint256,address,string)",
            chain_name,
            chain_id,
            owner,
            eth_channel,
        )

    def send_notification(self, channel: str, recipient: str, identity: bytes) -> str:
        return self._comm(
            "sendNotification(address,address,bytes)", channel, recipient, identity
        )

    def send_notifications(self, items: Iterable[tuple[str, str, bytes]]) -> str:
        """Every (channel, recipient, identity) as its own log, in one tx."""
        channels, recipients, identities = zip(*items, strict=True)
        return self._comm(
            "sendNotifications(address[],address[],bytes[])",
            list(channels),
            list(recipients),
            list(identities),
            gas=BATCH_GAS,
        )

    def send_notification_repeated(
        self, channel: str, recipient: str, identity: bytes, count: int
    ) -> str:
        return self._comm(
            "sendNotificationRepeated(address,address,bytes,uint256)",
            channel,
            recipient,
            identity,
            count,
            gas=BATCH_GAS,
        )

    def emit_comm(self, topics: Sequence[bytes], data: bytes = b"") -> str:
        return self._comm("emitRaw(bytes32[],bytes)", list(topics), data)

    # Chain control
    def mine(self, n: int = 1) -> None:
        """Mine ``n`` empty blocks, in chunks: anvil slows down as it grows."""
        for start in range(0, n, MINE_CHUNK):
            self.rpc.call("anvil_mine", hex(min(MINE_CHUNK, n - start)))

    def block_number(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def reorg(self, depth: int) -> None:
        """Replace the last ``depth`` blocks with empty ones of new hashes."""
        # anvil 1.7 takes positional (depth, tx_block_pairs), not the object
        # form older releases documented.
        self.rpc.call("anvil_reorg", depth, [])

    def receipt(self, tx_hash: str) -> dict:
        return _receipt(self.rpc, tx_hash)

    def close(self) -> None:
        self.rpc.close()

    def _core(self, signature: str, *args: object, gas: int = SINGLE_GAS) -> str:
        return self._send(self.deployment.core, signature, args, gas)

    def _comm(self, signature: str, *args: object, gas: int = SINGLE_GAS) -> str:
        return self._send(self.deployment.comm, signature, args, gas)

    def _send(self, to: str, signature: str, args: tuple, gas: int) -> str:
        types = signature[signature.index("(") + 1 : -1].split(",")
        data = "0x" + _selector(signature) + encode(types, list(args)).hex()
        tx = {"from": self.sender, "to": to, "data": data, "gas": hex(gas)}
        tx_hash = self.rpc.call("eth_sendTransaction", tx)
        _receipt(self.rpc, tx_hash)
        return tx_hash


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.chain")
    sub = parser.add_subparsers(dest="command", required=True)
    deploy = sub.add_parser("deploy", help="deploy the contracts, write CHAINS_FILE")
    deploy.add_argument("--rpc", required=True, help="anvil RPC URL")
    deploy.add_argument("--out", default="var/chains.json", help="chains file")
    args = parser.parse_args(argv)

    deployment = deploy_epns(args.rpc)
    path = write_chains_file(args.out, deployment, args.rpc)
    print(json.dumps(asdict(deployment), indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
