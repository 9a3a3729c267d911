"""Decode EPNS logs by topic0, for every event form in ``events.json``.

Several names occur with two or three signatures (alpha, V1 and bytes32
channel forms), so events are keyed by topic0, never by name. Decoding is
done here rather than with a generic ABI library because a backfill decodes
tens of thousands of logs a second and needs only five static types plus
``bytes`` and ``string``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from eth_utils import keccak

log = logging.getLogger(__name__)

EVENTS_FILE = Path(__file__).with_name("events.json")


class DecodeError(ValueError):
    """A log carries our topic0 but not the layout of its event."""


@dataclass(frozen=True)
class EventSpec:
    name: str
    signature: str
    topic0: str
    indexed: tuple[tuple[str, str], ...]  # (name, type) in topic order
    data: tuple[tuple[str, str], ...]  # (name, type) in data order


@dataclass(slots=True)
class Event:
    """One decoded log; the key is (chain, tx hash, log index).

    Never changed once built; not frozen, since a frozen dataclass takes
    several times longer to build and a backfill builds tens of thousands
    a second.
    """

    chain_id: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    contract: str
    name: str
    signature: str
    args: dict


def _spec(fragment: dict) -> EventSpec:
    types = ",".join(i["type"] for i in fragment["inputs"])
    signature = f"{fragment['name']}({types})"
    clean = [(i["name"].lstrip("_"), i["type"]) for i in fragment["inputs"]]
    flags = [i["indexed"] for i in fragment["inputs"]]
    return EventSpec(
        name=fragment["name"],
        signature=signature,
        topic0="0x" + keccak(text=signature).hex(),
        indexed=tuple(c for c, f in zip(clean, flags, strict=True) if f),
        data=tuple(c for c, f in zip(clean, flags, strict=True) if not f),
    )


@cache
def event_specs() -> dict[str, EventSpec]:
    """Every EPNS event form, by topic0."""
    fragments = json.loads(EVENTS_FILE.read_text())
    specs = [_spec(f) for f in fragments if f.get("type") == "event"]
    return {s.topic0: s for s in specs}


def all_topics() -> list[str]:
    return sorted(event_specs())


def decode_log(raw: dict, chain_id: int) -> Event | None:
    """Decode one ``eth_getLogs`` entry, or None if it is no EPNS event."""
    topics = raw.get("topics")
    if not topics:
        return None
    compiled = _compiled()
    # Nodes send topics in lower case; the lowering is for those that do not.
    layout = compiled.get(topics[0]) or compiled.get(topics[0].lower())
    if layout is None:
        return None
    spec, names, decoders = layout
    if len(topics) != len(names) + 1:
        raise DecodeError(f"{spec.signature}: {len(topics) - 1} indexed topics")

    # A plain loop over parallel tuples: half the time of a comprehension
    # unpacking (name, decoder) pairs, for every log of a backfill.
    args = {}
    for name, decode, topic in zip(names, decoders, topics[1:], strict=True):
        args[name] = decode(topic)
    if spec.data:
        args.update(_decode_data(spec, bytes.fromhex(raw.get("data", "0x")[2:])))
    return Event(
        chain_id,
        int(raw["blockNumber"], 16),
        raw["blockHash"].lower(),
        raw["transactionHash"].lower(),
        int(raw["logIndex"], 16),
        raw["address"].lower(),
        spec.name,
        spec.signature,
        args,
    )


@cache
def _compiled() -> dict[
    str, tuple[EventSpec, tuple[str, ...], tuple[Callable[[str], object], ...]]
]:
    """Each spec with the names of its indexed topics and a decoder for
    each, chosen once: a backfill decodes tens of thousands of logs a
    second."""
    return {
        topic0: (
            spec,
            tuple(name for name, _ in spec.indexed),
            tuple(_topic_decoder(kind) for _, kind in spec.indexed),
        )
        for topic0, spec in event_specs().items()
    }


def _topic_decoder(kind: str) -> Callable[[str], object]:
    if kind == "address":
        return _address_topic
    return lambda topic: _word(bytes.fromhex(topic[2:]), kind)


def _address_topic(topic: str) -> str:
    """The address in a topic, as ``_word`` gives it, without the bytes."""
    if len(topic) != 66:
        return _word(bytes.fromhex(topic[2:]), "address")
    address = topic[26:].lower()
    bytes.fromhex(address)  # hex digits only, as for every other topic
    return "0x" + address


def _decode_data(spec: EventSpec, data: bytes) -> dict:
    values = {}
    for position, (name, kind) in enumerate(spec.data):
        head = data[32 * position : 32 * position + 32]
        if len(head) != 32:
            raise DecodeError(f"{spec.signature}: data too short")
        if kind in ("bytes", "string"):
            values[name] = _dynamic(data, int.from_bytes(head, "big"), kind, spec)
        else:
            values[name] = _word(head, kind)
    return values


def _dynamic(data: bytes, offset: int, kind: str, spec: EventSpec) -> str | bytes:
    length = int.from_bytes(data[offset : offset + 32], "big")
    body = data[offset + 32 : offset + 32 + length]
    if offset + 32 > len(data) or len(body) != length:
        raise DecodeError(f"{spec.signature}: {kind} runs past the data")
    if kind == "string":
        return body.decode("utf-8", errors="replace")
    return body


def _word(word: bytes, kind: str) -> object:
    if kind == "address":
        return "0x" + word[12:].hex()
    if kind.startswith("uint"):
        return int.from_bytes(word, "big")
    if kind == "bytes32":
        return "0x" + word.hex()
    if kind == "bool":
        return word[-1] == 1
    raise DecodeError(f"unsupported indexed type {kind}")


def channel_address(value: str) -> str | None:
    """The address behind a channel argument (address or bytes32 form)."""
    if len(value) == 42:
        return value
    if len(value) == 66 and value[2:26] == "0" * 24:
        return "0x" + value[26:]
    return None


def args_json(args: dict) -> str:
    """Arguments as JSON: bytes become 0x hex, big integers stay exact."""
    return json.dumps(
        {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in args.items()},
        separators=(",", ":"),
    )
