"""The shared foundation: configuration, addresses, schema, queue hand-off."""

from __future__ import annotations

import pytest

from app.addresses import BadChecksum, InvalidAddress, normalize_address
from app.config import ConfigError, load_settings, parse_chains
from app.models import Notification
from app.queue import enqueue_notification, notification_job_id

ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.mark.parametrize(
    "value",
    [
        ADDR,
        ADDR.lower(),
        ADDR.upper().replace("0X", "0x"),
        f"eip155:{ADDR}",
        f"eip155:1:{ADDR}",
        f"  {ADDR} ",
    ],
)
def test_address_forms_normalise_to_one(value):
    assert normalize_address(value) == ADDR.lower()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0x123",
        "eip155:x:" + ADDR,
        "cosmos:" + ADDR,
        ADDR + "00",
        None,
        5,
    ],
)
def test_bad_addresses_are_refused(value):
    with pytest.raises(InvalidAddress):
        normalize_address(value)


def test_wrong_checksum_is_its_own_error():
    wrong = ADDR[:-1] + ("d" if ADDR[-1] != "d" else "e")
    with pytest.raises(BadChecksum):
        normalize_address(wrong)


def test_chains_parse_with_defaults():
    chains = parse_chains(
        '[{"chain_id": 1, "name": "eth", "rpc_urls": ["http://127.0.0.1:1"],'
        f' "comm_address": "{ADDR}"}}]',
        "CHAINS",
    )
    assert chains[0].comm_address == ADDR.lower()
    assert chains[0].core_address is None
    assert chains[0].max_range == 2000


@pytest.mark.parametrize(
    "text, key_part",
    [
        ("[]", "non-empty"),
        ("{", "not valid JSON"),
        ('[{"chain_id": 1, "name": "x", "rpc_urls": []}]', "rpc_urls"),
        (
            '[{"chain_id": "1", "name": "x", "rpc_urls": ["u"], "comm_address": "%s"}]'
            % ADDR,
            "chain_id",
        ),
        (
            '[{"chain_id": 1, "name": "x", "rpc_urls": ["u"], "comm_address": "0x1"}]',
            "comm_address",
        ),
    ],
)
def test_malformed_chains_name_the_field(text, key_part):
    with pytest.raises(ConfigError, match=key_part):
        parse_chains(text, "CHAINS")


def test_unknown_app_env_fails_fast():
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_settings({"APP_ENV": "prod"})


def test_schema_round_trip(db):
    row = Notification.create(
        chain_id=1,
        tx_hash="0x" + "ab" * 32,
        log_index=3,
        block_number=10,
        block_hash="0x" + "cd" * 32,
        channel=ADDR.lower(),
        recipient=ADDR.lower(),
        identity=b"2+{}",
    )
    assert Notification.get_by_id(row.id).status == "pending"


def test_enqueue_is_idempotent_while_the_job_is_queued(redis):
    assert enqueue_notification(redis, 7) is True
    assert enqueue_notification(redis, 7) is False
    assert redis.exists(f"rq:job:{notification_job_id(7)}")
