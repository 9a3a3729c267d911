"""The token registry's rules, called directly on the real database."""

from __future__ import annotations

import contextlib
import random
import threading

import peewee as pw
import pytest

from app import tokens
from app.db import database
from app.errors import Forbidden, InvalidInput, NotFound, ServiceError
from app.models import DeviceToken
from tests.api.helpers import apns_token, fcm_token

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
N = 12


def test_tokens_differing_only_in_case_are_two_devices(db):
    lower = fcm_token(1).replace("x", "q")
    upper = lower.replace("q", "Q")

    tokens.register(ALICE, tokens.validate_device(lower, "android"))
    tokens.register(BOB, tokens.validate_device(upper, "android"))

    assert sorted((r.wallet, r.token) for r in DeviceToken.select()) == sorted(
        [(ALICE, lower), (BOB, upper)]
    )


def test_apns_tokens_are_stored_lower_case(db):
    form = tokens.validate_device(apns_token(255).upper(), "IOS")

    assert form.token == apns_token(255)
    assert form.platform == "ios"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("0x12", "invalid_address"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "bad_checksum"),
        ("eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "bad_checksum"),
    ],
)
def test_wallet_errors_keep_the_address_codes(value, code):
    with pytest.raises(InvalidInput) as caught:
        tokens.parse_wallet(value)
    assert caught.value.code == code
    assert caught.value.field == "wallet"


def test_outcomes_of_register(db):
    form = tokens.validate_device(apns_token(), "ios")

    outcomes = [
        tokens.register(ALICE, form).outcome,
        tokens.register(ALICE, form).outcome,
        tokens.register(
            ALICE, tokens.validate_device(apns_token(), "ios", apns_token(2))
        ).outcome,
        tokens.register(BOB, form).outcome,
    ]

    assert outcomes == ["created", "unchanged", "updated", "moved"]
    assert DeviceToken.select().count() == 1


def test_concurrent_registrations_of_one_token_leave_one_row(db):
    form = tokens.validate_device(fcm_token(5), "android")
    barrier = threading.Barrier(N)
    outcomes, errors = [], []

    def worker():
        barrier.wait()
        try:
            with database.connection_context():
                outcomes.append(tokens.register(ALICE, form).outcome)
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(outcomes) == ["created"] + ["unchanged"] * (N - 1)
    assert DeviceToken.select().count() == 1


def test_update_and_delete_refuse_other_wallets_and_unknown_refs(db):
    row = tokens.register(BOB, tokens.validate_device(apns_token(), "ios")).device

    with pytest.raises(Forbidden):
        tokens.update_device(ALICE, str(row.id), platform="web")
    with pytest.raises(Forbidden):
        tokens.delete_device(ALICE, apns_token())
    with pytest.raises(NotFound):
        tokens.delete_device(ALICE, "é" * 70)
    with pytest.raises(NotFound):
        tokens.delete_device(ALICE, "999999")
    assert DeviceToken.get().wallet == BOB


def test_switching_to_android_drops_the_voip_token(db):
    form = tokens.validate_device(apns_token(), "ios", apns_token(3))
    row = tokens.register(ALICE, form).device

    done = tokens.update_device(
        ALICE, str(row.id), token=fcm_token(3), platform="android"
    )

    assert done.outcome == "updated"
    assert (done.device.platform, done.device.voip_token) == ("android", None)


def test_registration_racing_a_delete_is_stored_when_it_says_so(db):
    """Bob registers the token Alice is deleting: whatever the order, an
    answer of created, moved or updated means Bob's row exists afterwards."""
    bob = "0x" + "b0" * 20
    lost = []
    for i in range(40):
        form = tokens.validate_device(apns_token(500 + i), "ios")
        tokens.register(ALICE, form)
        barrier = threading.Barrier(2)
        answers = {}

        def delete(form=form, barrier=barrier):
            barrier.wait()
            with (
                database.connection_context(),
                contextlib.suppress(NotFound, Forbidden),
            ):
                tokens.delete_device(ALICE, form.token)  # Bob's already: refused

        def register(form=form, barrier=barrier, answers=answers):
            barrier.wait()
            with database.connection_context():
                answers["bob"] = tokens.register(bob, form).outcome

        threads = [threading.Thread(target=delete), threading.Thread(target=register)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        row = DeviceToken.get_or_none(DeviceToken.token == form.token)
        if row is None or row.wallet != bob:
            lost.append(answers["bob"])
    assert lost == []


@pytest.mark.parametrize(
    ("token", "platform", "voip"),
    [
        (apns_token() + "\n", "ios", None),
        (apns_token(), "ios", apns_token(2) + "\n"),
        (fcm_token() + "\n", "android", None),
        ("a" * 255 + "\n", "web", None),
    ],
)
def test_a_final_newline_is_no_part_of_a_valid_token(token, platform, voip):
    with pytest.raises(InvalidInput) as caught:
        tokens.validate_device(token, platform, voip)
    assert caught.value.code == "bad_token"


@pytest.mark.parametrize("value", [ALICE + "\n", f" eip155:1:{ALICE}\n"])
def test_a_wallet_is_stored_without_the_space_around_it(value):
    assert tokens.parse_wallet(value) == ALICE


def test_a_device_id_with_a_final_newline_names_no_device(db):
    done = tokens.register(ALICE, tokens.validate_device(apns_token(), "ios"))

    with pytest.raises(NotFound):
        tokens.delete_device(ALICE, f"{done.device.id}\n")
    assert DeviceToken.select().count() == 1


def test_racing_writes_on_shared_tokens_never_fail_on_a_lost_lock_race(db):
    """Registrations, rotations and deletes of three tokens by three wallets
    at once: InnoDB picks deadlock victims among them, which are run again;
    every call ends in an answer of the registry, never a database error."""
    wallets = ["0x" + c * 40 for c in "abc"]
    shared = [apns_token(n) for n in (1, 2, 3)]
    barrier = threading.Barrier(N)
    failures = []

    def worker(seed: int) -> None:
        pick = random.Random(seed).choice
        barrier.wait()
        with database.connection_context():
            for _ in range(60):
                wallet, token = pick(wallets), pick(shared)
                try:
                    match pick(("register", "rotate", "delete")):
                        case "register":
                            form = tokens.validate_device(token, "ios")
                            tokens.register(wallet, form)
                        case "rotate":
                            tokens.update_device(wallet, token, token=pick(shared))
                        case "delete":
                            tokens.delete_device(wallet, token)
                except (ServiceError, pw.IntegrityError):
                    pass  # refusals and 409 conflicts the client is told of
                except Exception as exc:  # collected for the assertion below
                    failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
