"""Provider error texts are classified by code and message (P1, P2 inputs)."""

from __future__ import annotations

import pytest

from poller.provider_errors import Kind, classify_http, classify_rpc_error

CASES = [
    # Infura: result cap with a suggested range in text and data.
    (
        -32005,
        "query returned more than 10000 results. Try with this block range "
        "[0x10, 0x1f].",
        {"from": "0x10", "to": "0x1f", "limit": 10000},
        Kind.TOO_MANY_RESULTS,
        (16, 31),
        None,
    ),
    # Infura: block-range limit (P1).
    (
        -32602,
        "range 1000000 exceeds limit of 10000",
        None,
        Kind.RANGE_TOO_WIDE,
        None,
        10000,
    ),
    # Alchemy: response size, and the block-range form.
    (
        -32602,
        "Log response size exceeded. You can make eth_getLogs requests with up to a "
        "2K block range and no limit on the response size, or you can request any "
        "block range with a cap of 10K logs in the response. Based on your "
        "parameters, this block range should work: [0x123c9b2, 0x123cba5]",
        None,
        Kind.TOO_MANY_RESULTS,
        (0x123C9B2, 0x123CBA5),
        2000,
    ),
    (
        -32600,
        "You can make eth_getLogs requests with up to a 500 block range. Based on "
        "your parameters, this block range should work: [0x123c9b2, 0x123cba5]",
        None,
        Kind.RANGE_TOO_WIDE,
        (0x123C9B2, 0x123CBA5),
        500,
    ),
    # QuickNode.
    (
        -32614,
        "eth_getLogs is limited to a 10,000 range",
        None,
        Kind.RANGE_TOO_WIDE,
        None,
        10000,
    ),
    # Ankr.
    (-32600, "block range is too wide", None, Kind.RANGE_TOO_WIDE, None, None),
    # geth and its forks.
    (-32000, "exceed maximum block range: 5000", None, Kind.RANGE_TOO_WIDE, None, 5000),
    (
        -32602,
        "block range extends beyond current head block",
        None,
        Kind.BEYOND_HEAD,
        None,
        None,
    ),
    # Erigon.
    (
        -32602,
        "query block range exceeds server limit, narrow your filter: 5",
        None,
        Kind.RANGE_TOO_WIDE,
        None,
        5,
    ),
    (
        -32000,
        "query returns too many logs, narrow your filter: 20000",
        None,
        Kind.TOO_MANY_RESULTS,
        None,
        None,
    ),
    # reth (P2 text).
    (
        -32602,
        "query exceeds max results 20000, retry with the range 24383075-24383096",
        None,
        Kind.TOO_MANY_RESULTS,
        (24383075, 24383096),
        None,
    ),
    (
        -32602,
        "query exceeds max block range 100000",
        None,
        Kind.RANGE_TOO_WIDE,
        None,
        100000,
    ),
    # Same code, other meaning: Infura rate limit and a bad parameter.
    (
        -32005,
        "daily request count exceeded, request rate limited",
        None,
        Kind.RATE_LIMITED,
        None,
        None,
    ),
    (
        -32602,
        "invalid argument 0: hex string has odd length",
        None,
        Kind.FATAL,
        None,
        None,
    ),
    (
        429,
        "Your app has exceeded its compute units per second capacity",
        None,
        Kind.RATE_LIMITED,
        None,
        None,
    ),
    (-32000, "header not found", None, Kind.UNAVAILABLE, None, None),
]


@pytest.mark.parametrize(
    ("code", "message", "data", "kind", "suggested", "limit"), CASES
)
def test_provider_texts(code, message, data, kind, suggested, limit):
    info = classify_rpc_error(code, message, data)
    assert (info.kind, info.suggested, info.limit) == (kind, suggested, limit)


def test_http_answers_and_retry_after():
    assert classify_http(429, "", "7").retry_after == 7.0
    assert classify_http(429, "", "7").kind is Kind.RATE_LIMITED
    assert classify_http(503, "", None).kind is Kind.UNAVAILABLE
    assert classify_http(401, "bad key", None).kind is Kind.FATAL
    when = classify_http(429, "", "Wed, 21 Oct 2015 07:28:00 GMT").retry_after
    assert when == 0.0
