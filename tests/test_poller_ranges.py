"""Range widths: shrink on refusals, learn stated limits, grow back."""

from __future__ import annotations

from poller.provider_errors import Classified, Kind
from poller.scanner import Scanner, Width
from tests.poller_support import chain_config


def test_width_grows_back_to_the_ceiling_after_successes():
    width = Width(current=100, ceiling=100)
    width.shrink_to(10)
    assert width.current == 10

    for _ in range(2):
        width.succeeded()
    assert width.current == 20
    for _ in range(10):
        width.succeeded()
    assert width.current == 100


def _scanner(max_range: int = 1000) -> Scanner:
    from devstack.chain import EpnsDeployment

    deployment = EpnsDeployment(
        1, "0x" + "01" * 20, "0x" + "02" * 20, 1, "0x" + "03" * 20
    )
    return Scanner(
        chain_config(deployment, "http://127.0.0.1:9", max_range=max_range), None
    )


def test_suggestion_is_used_once_then_bisected():
    scanner = _scanner()
    refusal = Classified(Kind.TOO_MANY_RESULTS, "cap", suggested=(100, 150))

    last, suggested = scanner._after_refusal(100, 1099, refusal, followed=False)
    assert (last, suggested) == (150, True)
    last, suggested = scanner._after_refusal(100, 150, refusal, followed=True)
    assert (last, suggested) == (125, False)


def test_suggestion_equal_to_the_request_is_bisected():
    scanner = _scanner()
    refusal = Classified(Kind.TOO_MANY_RESULTS, "cap", suggested=(100, 199))
    assert scanner._after_refusal(100, 199, refusal, followed=False) == (149, False)


def test_stated_limit_becomes_the_ceiling():
    scanner = _scanner()
    refusal = Classified(Kind.RANGE_TOO_WIDE, "limit", limit=300)

    last, _ = scanner._after_refusal(0, 999, refusal, followed=False)

    assert last == 299
    assert scanner.width.ceiling == 300
    for _ in range(10):
        scanner.width.succeeded()
    assert scanner.width.current == 300
