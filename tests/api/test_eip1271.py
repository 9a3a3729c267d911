"""Contract wallets sign in through EIP-1271, checked on a real anvil chain."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from web3 import Web3

from devstack.services import free_port, start_anvil, stop
from devstack.solidity import load_artifact
from tests.api.helpers import signed_message

OWNER = Account.create()


@pytest.fixture(scope="module")
def chain():
    proc, url = start_anvil()
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def contract_wallet(chain) -> str:
    """An Eip1271Wallet owned by OWNER, deployed from anvil's first account."""
    w3 = Web3(Web3.HTTPProvider(chain))
    artifact = load_artifact("Eip1271Wallet")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(OWNER.address).transact({"from": w3.eth.accounts[0]})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    return receipt.contractAddress


def _login(client, account, wallet):
    body = signed_message(client, account, address=wallet)
    return client.post("/apis/v1/auth/login", json=body)


def test_contract_wallet_signs_in_through_its_owner(make_app, chain, contract_wallet):
    client = make_app(EIP1271_RPC_URLS=json.dumps({"31337": chain})).test_client()

    answer = _login(client, OWNER, contract_wallet)

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["wallet"] == contract_wallet.lower()


def test_rpc_url_comes_from_the_chain_list_too(make_app, chain, contract_wallet):
    chains = [
        {
            "chain_id": 31337,
            "name": "anvil",
            "rpc_urls": [chain],
            "comm_address": "0x" + "11" * 20,
        }
    ]
    client = make_app(CHAINS=json.dumps(chains)).test_client()

    assert _login(client, OWNER, contract_wallet).status_code == 200


def test_contract_wallet_refuses_a_stranger(make_app, chain, contract_wallet):
    client = make_app(EIP1271_RPC_URLS=json.dumps({"31337": chain})).test_client()

    answer = _login(client, Account.create(), contract_wallet)

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "bad_signature"


def test_contract_wallet_without_rpc_is_refused(make_app, contract_wallet):
    client = make_app().test_client()

    answer = _login(client, OWNER, contract_wallet)

    assert answer.get_json()["error"] == "bad_signature"


def test_account_without_code_is_not_a_contract_wallet(make_app, chain):
    client = make_app(EIP1271_RPC_URLS=json.dumps({"31337": chain})).test_client()
    empty = Account.create().address

    answer = _login(client, OWNER, empty)

    assert answer.get_json()["error"] == "bad_signature"


def test_dead_rpc_node_answers_503_not_500(make_app, contract_wallet):
    dead = f"http://127.0.0.1:{free_port()}"
    client = make_app(
        EIP1271_RPC_URLS=json.dumps({"31337": dead}), EIP1271_RPC_TIMEOUT_SECONDS="2"
    ).test_client()

    answer = _login(client, OWNER, contract_wallet)

    assert answer.status_code == 503
    assert answer.get_json()["error"] == "rpc_unavailable"


def test_checked_in_artifact_matches_the_source():
    from devstack.solidity import CONTRACTS, compile_sources

    source = (CONTRACTS / "Eip1271Wallet.sol").read_text()

    built = compile_sources({"Eip1271Wallet.sol": source})["Eip1271Wallet"]

    assert built == load_artifact("Eip1271Wallet")
