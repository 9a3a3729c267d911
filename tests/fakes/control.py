"""What every fake shares: per-token scripts, the received log, /_fake routes.

``POST /_fake/script`` takes ``{"token": T or "*", "answers": [answer, ...]}``;
an answer is ``{"kind": K}`` plus optional ``times`` (default 1; 0 means
for ever), ``delay`` (seconds before answering), ``retry_after`` and
``delivered`` (the push reached the device although the answer says
otherwise). Kinds are the service's documented errors, plus ``ok``,
``slow``, ``reset``, ``goaway`` and ``silent``. Unscripted tokens succeed.
"""

from __future__ import annotations

import json
import threading
from collections import deque

from tests.fakes.server import Reply, Request


class Script:
    def __init__(self) -> None:
        self._answers: dict[str, deque[dict]] = {}
        self._lock = threading.Lock()

    def add(self, token: str, answers: list[dict]) -> None:
        with self._lock:
            self._answers.setdefault(token, deque()).extend(dict(a) for a in answers)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()

    def next(self, token: str) -> dict | None:
        if not self._answers:
            return None  # nothing scripted: every token succeeds, no lock taken
        with self._lock:
            for key in (token, "*"):
                queue = self._answers.get(key)
                if not queue:
                    continue
                answer = queue[0]
                times = answer.get("times", 1)
                if times == 1:
                    queue.popleft()
                elif times > 1:
                    answer["times"] = times - 1
                return answer
        return None


class FakeService:
    """Base of the fakes: control routes, recording, one line per push."""

    name = "fake"

    def __init__(self, quiet: bool = False, light: bool = False) -> None:
        self.script = Script()
        self.received: list[dict] = []
        self.count = 0
        self.quiet = quiet
        self.light = light  # keep only tokens (benchmarks of 100,000s of pushes)
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        if request.path.startswith("/_fake/"):
            return self.control(request)
        return self.handle(request)

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def stats(self) -> dict:
        return {"received": self.count}

    def control(self, request: Request) -> Reply:
        route = request.path.split("?")[0]
        if route == "/_fake/received" and request.method == "GET":
            with self._lock:
                return Reply.json(200, list(self.received))
        if route == "/_fake/stats":
            return Reply.json(200, self.stats())
        if route == "/_fake/reset" and request.method == "POST":
            self.reset()
            return Reply.json(200, {"ok": True})
        if route == "/_fake/script" and request.method == "POST":
            doc = request.json()
            if not isinstance(doc, dict) or not isinstance(doc.get("answers"), list):
                return Reply.json(400, {"error": "expected {token, answers: [...]}"})
            self.script.add(str(doc.get("token", "*")), doc["answers"])
            return Reply.json(200, {"ok": True})
        return Reply.json(404, {"error": f"no control route {route}"})

    def reset(self) -> None:
        self.script.clear()
        with self._lock:
            self.received.clear()
            self.count = 0

    def record(self, item: dict) -> None:
        with self._lock:
            self.count += 1
            self.received.append({"token": item["token"]} if self.light else item)
        if not self.quiet:
            title, body = item.get("title"), (item.get("body") or "")[:60]
            print(
                f"{self.name} push …{item['token'][-6:]} {title!r} {body!r} "
                f"-> {item['status']}",
                flush=True,
            )


def action_reply(answer: dict, success: Reply) -> Reply | None:
    """The transport-level kinds shared by every fake, or None."""
    kind = answer.get("kind")
    if kind in ("reset", "goaway", "silent"):
        return Reply(action=kind, delay=float(answer.get("delay", 0)))
    if kind == "slow":
        success.delay = float(answer.get("delay", 1.0))
        return success
    return None


def dumps(doc: object) -> bytes:
    return json.dumps(doc).encode()
