"""A fault-injecting JSON-RPC proxy in front of anvil.

It forwards every request (single or batch) to anvil and can be told to
misbehave the way real providers do: range and result caps answered with
each provider's own error text and code, suggestions equal to the request,
429 with Retry-After, 503, answers slower than the client's timeout, a node
lagging behind the head it reports, a dropped log, ``removed: true`` copies.
Every ``eth_getLogs`` range it is asked for is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from devstack.services import free_port


def _hex(n: int) -> str:
    return hex(n)


# Range-cap errors: (HTTP status, code, message template using {width},
# {limit}, {first}, {suggest}).
RANGE_ERRORS = {
    "infura": (200, -32602, "range {width} exceeds limit of {limit}"),
    "alchemy": (
        200,
        -32600,
        "You can make eth_getLogs requests with up to a {limit} block range. Based on "
        "your parameters, this block range should work: [{first_hex}, {suggest_hex}]",
    ),
    "quicknode": (413, -32614, "eth_getLogs is limited to a {limit_commas} range"),
    "ankr": (200, -32600, "block range is too wide"),
    "geth": (200, -32000, "exceed maximum block range: {limit}"),
    "erigon": (
        200,
        -32602,
        "query block range exceeds server limit, narrow your filter: {limit}",
    ),
    "reth": (200, -32602, "query exceeds max block range {limit}"),
}

# Result-cap errors; {a} and {b} are the suggested range.
RESULT_ERRORS = {
    "infura": (
        -32005,
        "query returned more than {max} results. Try with this block range "
        "[{a_hex}, {b_hex}].",
        True,
    ),
    "alchemy": (
        -32602,
        "Log response size exceeded. You can make eth_getLogs requests with up to a "
        "2K block range and no limit on the response size, or you can request any "
        "block range with a cap of 10K logs in the response. Based on your "
        "parameters, this block range should work: [{a_hex}, {b_hex}]",
        False,
    ),
    "reth": (
        -32602,
        "query exceeds max results {max}, retry with the range {a}-{b}",
        False,
    ),
    "erigon": (-32000, "query returns too many logs, narrow your filter: {max}", False),
}


@dataclass
class Faults:
    range_limit: int | None = None
    range_style: str = "infura"
    result_limit: int | None = None
    result_style: str = "infura"
    same_range_suggestion: bool = False
    # (HTTP status, Retry-After) for the next requests; status 0 passes one.
    http_errors: list[tuple[int, float | None]] = field(default_factory=list)
    slow_requests: int = 0
    slow_seconds: float = 3.0
    every_request_delay: float = 0.0
    lag_blocks: int = 0
    drop_block_logs_once: bool = False
    # Called once, before the next eth_getLogs is answered (e.g. a reorg).
    before_get_logs: Callable[[], None] | None = None
    removed_copies: bool = False


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults = Faults()
        self.log_ranges: list[tuple[int, int]] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._session = requests.Session()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> RpcProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _forward(self, body: object) -> object:
        with self._lock:
            return self._session.post(self.upstream, json=body, timeout=60).json()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, headers, answer = proxy.handle(body)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def handle(self, body: object) -> tuple[int, dict, object]:
        self.requests += 1
        faults = self.faults
        status, retry_after = (
            faults.http_errors.pop(0) if faults.http_errors else (0, 0)
        )
        if status:
            headers = (
                {"Retry-After": str(retry_after)} if retry_after is not None else {}
            )
            return status, headers, {"error": f"HTTP {status}"}
        if faults.every_request_delay:
            time.sleep(faults.every_request_delay)
        if faults.slow_requests > 0:
            faults.slow_requests -= 1
            time.sleep(faults.slow_seconds)

        items = body if isinstance(body, list) else [body]
        answers = [self._answer(item) for item in items]
        status = max((a.pop("_status", 200) for a in answers), default=200)
        return status, {}, answers if isinstance(body, list) else answers[0]

    def _answer(self, item: dict) -> dict:
        method = item.get("method")
        if method == "eth_getLogs":
            return self._get_logs(item)
        answer = self._forward(item)
        if method == "eth_getBlockByNumber" and self.faults.lag_blocks:
            number = int(item["params"][0], 16)
            if number > self._node_head():
                answer["result"] = None
        return answer

    def _node_head(self) -> int:
        head = self._forward({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber"})
        return int(head["result"], 16) - self.faults.lag_blocks

    def _get_logs(self, item: dict) -> dict:
        query = item["params"][0]
        if "blockHash" in query:
            return self._filtered(item, self._forward(item))
        first, last = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        self.log_ranges.append((first, last))
        faults = self.faults
        if faults.before_get_logs is not None:
            hook, faults.before_get_logs = faults.before_get_logs, None
            hook()

        width = last - first + 1
        if faults.range_limit is not None and width > faults.range_limit:
            return self._range_error(item, first, last)

        answer = self._forward(item)
        logs = answer.get("result") or []
        if faults.result_limit is not None and len(logs) > faults.result_limit:
            return self._result_error(item, first, last, logs)
        return self._filtered(item, answer)

    def _filtered(self, item: dict, answer: dict) -> dict:
        faults = self.faults
        logs = answer.get("result")
        if not isinstance(logs, list):
            return answer
        if faults.lag_blocks:
            head = self._node_head()
            logs = [entry for entry in logs if int(entry["blockNumber"], 16) <= head]
        if faults.drop_block_logs_once and logs:
            faults.drop_block_logs_once = False
            dropped = logs[0]["blockNumber"]
            logs = [entry for entry in logs if entry["blockNumber"] != dropped]
        if faults.removed_copies:
            logs = logs + [_removed_copy(entry) for entry in logs]
        return {**answer, "result": logs}

    def _range_error(self, item: dict, first: int, last: int) -> dict:
        status, code, template = RANGE_ERRORS[self.faults.range_style]
        limit = self.faults.range_limit
        suggest = first + limit - 1
        message = template.format(
            width=last - first + 1,
            limit=limit,
            limit_commas=f"{limit:,}",
            first_hex=_hex(first),
            suggest_hex=_hex(suggest),
        )
        return {
            "jsonrpc": "2.0",
            "id": item.get("id"),
            "_status": status,
            "error": {"code": code, "message": message},
        }

    def _result_error(self, item: dict, first: int, last: int, logs: list) -> dict:
        code, template, with_data = RESULT_ERRORS[self.faults.result_style]
        limit = self.faults.result_limit
        if self.faults.same_range_suggestion:
            a, b = first, last
        else:
            a, b = first, _largest_end(first, logs, limit)
        error = {
            "code": code,
            "message": template.format(
                max=limit, a=a, b=b, a_hex=_hex(a), b_hex=_hex(b)
            ),
        }
        if with_data:
            error["data"] = {"from": _hex(a), "to": _hex(b), "limit": limit}
        return {"jsonrpc": "2.0", "id": item.get("id"), "error": error}


def _largest_end(first: int, logs: list, limit: int) -> int:
    """The last block such that [first, end] holds at most ``limit`` logs."""
    counts: dict[int, int] = {}
    for entry in logs:
        number = int(entry["blockNumber"], 16)
        counts[number] = counts.get(number, 0) + 1
    total, end = 0, first
    for number in sorted(counts):
        if total + counts[number] > limit:
            return max(first, number - 1)
        total += counts[number]
        end = number
    return end


def _removed_copy(entry: dict) -> dict:
    """What a node reports for a log of an orphaned block: another block
    hash, another recipient, ``removed: true``."""
    topics = list(entry["topics"])
    if len(topics) > 2:
        topics[2] = "0x" + "00" * 12 + "de" * 20
    return {**entry, "topics": topics, "blockHash": "0x" + "ee" * 32, "removed": True}
