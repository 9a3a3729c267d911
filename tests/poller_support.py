"""Helpers shared by the poller tests: chain configs and quick passes."""

from __future__ import annotations

import json

from app.config import ChainConfig, parse_chains
from devstack.chain import EpnsDeployment, chain_entry
from poller.rpc import RpcPolicy
from poller.runner import ChainResult, ChainRunner

FAST = RpcPolicy(timeout=2.0, attempts=4, backoff_base=0.02, backoff_cap=0.2)

CHANNEL = "0x" + "c1" * 20
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20


def chain_config(
    deployment: EpnsDeployment, urls: str | list[str], **overrides
) -> ChainConfig:
    urls = [urls] if isinstance(urls, str) else urls
    entry = chain_entry(deployment, urls[0], rpc_urls=urls, **overrides)
    (chain,) = parse_chains(json.dumps([entry]), "CHAINS")
    return chain


def run_pass(
    chain: ChainConfig, redis, policy: RpcPolicy = FAST, **kwargs
) -> ChainResult:
    runner = ChainRunner(chain, redis, policy, **kwargs)
    try:
        return runner.run_pass()
    finally:
        runner.close()
