"""Our test contracts emit exactly the EPNS events, with mainnet's topic0."""

from __future__ import annotations

import json

from eth_utils import keccak

from app.config import ROOT, parse_chains
from devstack.chain import write_chains_file
from devstack.solidity import compile_sources, load_artifact

EVENTS = ROOT.parent / "shared" / "epns" / "events.json"


def _signature(event: dict) -> str:
    return f"{event['name']}({','.join(i['type'] for i in event['inputs'])})"


def _topics(abi: list[dict]) -> dict[str, str]:
    return {
        "0x" + keccak(text=_signature(e)).hex(): _signature(e)
        for e in abi
        if e["type"] == "event"
    }


def _events_json() -> list[dict]:
    """The shared reference when present, else the poller's checked-in copy."""
    path = EVENTS if EVENTS.exists() else ROOT / "poller" / "events.json"
    return json.loads(path.read_text())


def test_poller_copy_of_events_is_the_reference():
    ours = json.loads((ROOT / "poller" / "events.json").read_text())
    assert ours == _events_json()


def test_every_epns_event_has_its_mainnet_topic0():
    wanted = _topics(_events_json())
    compiled = {
        **_topics(load_artifact("EpnsCore")["abi"]),
        **_topics(load_artifact("EpnsComm")["abi"]),
    }
    assert len(wanted) == 32
    assert wanted == compiled


def test_known_topic0_prefixes_match_protocol_table():
    topics = _topics(_events_json())
    by_sig = {sig: topic for topic, sig in topics.items()}
    assert by_sig["SendNotification(address,address,bytes)"].startswith("0xcc2b84a3")
    assert by_sig["AddChannel(address,uint8,bytes)"].startswith("0x1f97bc77")
    assert by_sig["AddDelegate(address,address)"].startswith("0x2fd5b26f")


def test_checked_in_build_is_current():
    sources = {
        p.name: p.read_text() for p in sorted((ROOT / "contracts").glob("*.sol"))
    }
    for name, artifact in compile_sources(sources).items():
        assert load_artifact(name) == json.loads(json.dumps(artifact))


def test_channel_creation_emits_addchannel_then_subscribes(driver, epns):
    channel, identity = "0x" + "ab" * 20, b"1+QmChannel"
    receipt = driver.receipt(driver.add_channel(channel, identity))

    logs = receipt["logs"]
    assert [log["address"] for log in logs] == [epns.core] + [epns.comm] * 3
    again = driver.receipt(driver.add_channel(channel, identity))
    assert len(again["logs"]) == 1  # subscriptions that exist are left out


def test_chains_file_is_what_config_reads(tmp_path, epns, anvil):
    path = write_chains_file(tmp_path / "chains.json", epns, anvil, max_range=500)
    (chain,) = parse_chains(path.read_text(), "CHAINS_FILE")
    assert chain.core_address == epns.core
    assert chain.start_block == epns.deploy_block
    assert chain.confirmations == 0
    assert chain.max_range == 500
