"""What an RPC provider's error means for the poller, from code *and* text.

Providers reuse codes for unrelated failures (Infura's -32005 is both "too
many results" and "rate limited"; -32602 is both "range too wide" and a bad
parameter), so the message decides, and the code only breaks ties. Texts
covered: Infura, Alchemy, QuickNode, Ankr, geth and its forks, Erigon, reth.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


class Kind(enum.StrEnum):
    RANGE_TOO_WIDE = "range_too_wide"  # a block-count limit: shrink
    TOO_MANY_RESULTS = "too_many_results"  # a result or size cap: shrink
    BEYOND_HEAD = "beyond_head"  # the node has not got these blocks yet
    RATE_LIMITED = "rate_limited"  # 429 and friends: back off, fail over
    UNAVAILABLE = "unavailable"  # 5xx, refused connections: back off
    TIMEOUT = "timeout"  # no answer in time: back off, fail over
    INCONSISTENT = "inconsistent"  # the answer contradicts itself: retry
    FATAL = "fatal"  # anything else: retrying will not help


TRANSIENT = frozenset(
    {Kind.RATE_LIMITED, Kind.UNAVAILABLE, Kind.TIMEOUT, Kind.INCONSISTENT}
)
SHRINKABLE = frozenset({Kind.RANGE_TOO_WIDE, Kind.TOO_MANY_RESULTS, Kind.BEYOND_HEAD})


@dataclass(frozen=True)
class Classified:
    kind: Kind
    message: str
    suggested: tuple[int, int] | None = None  # a range the provider proposes
    limit: int | None = None  # the block-count limit the provider states
    retry_after: float | None = None


_NUMBER = r"(0x[0-9a-fA-F]+|\d[\d,]*)"

# A range the provider proposes: "[0x1, 0x2]" (Infura, Alchemy) or
# "retry with the range 10-20" (reth).
_SUGGESTED = (
    re.compile(rf"\[\s*{_NUMBER}\s*,\s*{_NUMBER}\s*\]"),
    re.compile(rf"retry with the range {_NUMBER}\s*-\s*{_NUMBER}", re.I),
)

# A block-count limit stated in the message.
_LIMITS = (
    re.compile(rf"exceeds limit of {_NUMBER}", re.I),  # Infura -32602
    re.compile(rf"limited to (?:a )?{_NUMBER}(k?)(?: block)? range", re.I),
    re.compile(rf"up to a {_NUMBER}(k?) block range", re.I),  # Alchemy
    re.compile(rf"max(?:imum)? block range:? {_NUMBER}", re.I),  # geth forks, reth
    re.compile(rf"max block range = {_NUMBER}", re.I),
    re.compile(rf"exceeds server limit, narrow your filter: {_NUMBER}", re.I),
    re.compile(rf"max is {_NUMBER}(k?) blocks", re.I),
    re.compile(rf"too wide \(maximum {_NUMBER}\)", re.I),
    re.compile(rf"max range: {_NUMBER}", re.I),
)

_PATTERNS: tuple[tuple[Kind, re.Pattern], ...] = (
    (
        Kind.BEYOND_HEAD,
        re.compile(
            r"beyond current head|after last accepted block|"
            r"block range extends beyond|greater than (?:the )?latest|"
            r"requested block is in the future",
            re.I,
        ),
    ),
    (
        Kind.TOO_MANY_RESULTS,
        re.compile(
            r"more than \d[\d,]* results|max results|too many logs|"
            r"response size|response too large|returned too many|"
            r"logs matched by query exceeds|query timeout exceeded|"
            r"log query timed out|query timed out",
            re.I,
        ),
    ),
    (
        Kind.RANGE_TOO_WIDE,
        re.compile(
            r"exceeds limit of|block range|range is too (?:large|wide)|"
            r"limited to (?:a )?[\d,]+|max(?:imum)? block range|range too large|"
            r"exceeds server limit|too wide|blocks are not supported|"
            r"range limit|exceeds the range",
            re.I,
        ),
    ),
    (
        Kind.RATE_LIMITED,
        re.compile(
            r"rate limit|too many requests|exceeded the quota|"
            r"capacity exceeded|compute units|throughput|daily request count|"
            r"request limit reached",
            re.I,
        ),
    ),
    (
        Kind.UNAVAILABLE,
        re.compile(
            r"service unavailable|bad gateway|internal error|temporarily|"
            r"overloaded|upstream|try again later|header not found|"
            r"unknown block|missing trie node",
            re.I,
        ),
    ),
)

_RATE_CODES = {429, -32029, -32097, -32090}


def classify_rpc_error(
    code: int | None, message: str, data: object = None
) -> Classified:
    """Classify a JSON-RPC ``error`` object."""
    text = message or ""
    if isinstance(data, str):
        text = f"{text} {data}"
    elif isinstance(data, dict) and isinstance(data.get("payload"), str):
        text = f"{text} {data['payload']}"

    kind = next((k for k, pattern in _PATTERNS if pattern.search(text)), None)
    if kind is None:
        kind = Kind.RATE_LIMITED if code in _RATE_CODES else Kind.FATAL
    if kind is Kind.FATAL and code is not None and -32099 <= code <= -32000:
        # Server-defined errors without a recognised text: a node hiccup
        # more often than a permanent refusal; retried a bounded number of
        # times like any transient error.
        kind = Kind.UNAVAILABLE

    return Classified(
        kind=kind,
        message=text.strip()[:300],
        suggested=_suggested(text, data) if kind in SHRINKABLE else None,
        limit=_limit(text) if kind in SHRINKABLE else None,
    )


def classify_http(status: int, body: str, retry_after: str | None = None) -> Classified:
    """Classify an HTTP answer that carried no usable JSON-RPC body."""
    delay = parse_retry_after(retry_after)
    if status == 429:
        return Classified(
            Kind.RATE_LIMITED, f"HTTP 429 {body[:200]}", None, None, delay
        )
    if status >= 500 or status in (408, 425):
        return Classified(
            Kind.UNAVAILABLE, f"HTTP {status} {body[:200]}", retry_after=delay
        )
    return Classified(Kind.FATAL, f"HTTP {status} {body[:200]}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _to_int(text: str, thousands: str = "") -> int:
    text = text.replace(",", "")
    value = int(text, 16) if text.lower().startswith("0x") else int(text)
    return value * 1000 if thousands.lower() == "k" else value


def _suggested(text: str, data: object) -> tuple[int, int] | None:
    if isinstance(data, dict) and "from" in data and "to" in data:
        try:
            return _to_int(str(data["from"])), _to_int(str(data["to"]))
        except ValueError:
            pass
    for pattern in _SUGGESTED:
        match = pattern.search(text)
        if match:
            return _to_int(match.group(1)), _to_int(match.group(2))
    return None


def _limit(text: str) -> int | None:
    for pattern in _LIMITS:
        match = pattern.search(text)
        if match:
            groups = match.groups()
            value = _to_int(groups[0], groups[1] if len(groups) > 1 else "")
            return value if value > 0 else None
    return None
