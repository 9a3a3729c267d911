"""Fake IPFS gateway serving content by its real CID.

``python -m tests.fakes.ipfs --port P``. ``POST /_fake/add`` with raw bytes
answers ``{"cid": ...}`` (the CIDv0 ``ipfs add`` would give);
``GET /ipfs/<cid>`` serves them. Scripts are keyed by CID: kinds ``wrong``
(other bytes), ``huge`` (1 MiB), ``error`` (HTTP 504) and ``slow``.
"""

from __future__ import annotations

import argparse
import asyncio

from app.jobs.cid import cid_v0
from tests.fakes.control import FakeService, action_reply
from tests.fakes.server import FakeServer, Reply, Request


class FakeIpfs(FakeService):
    name = "ipfs"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.content: dict[str, bytes] = {}

    def add(self, content: bytes) -> str:
        cid = cid_v0(content)
        self.content[cid] = content
        return cid

    def control(self, request: Request) -> Reply:
        if request.path == "/_fake/add" and request.method == "POST":
            return Reply.json(200, {"cid": self.add(request.body)})
        return super().control(request)

    def handle(self, request: Request) -> Reply:
        if request.method != "GET" or not request.path.startswith("/ipfs/"):
            return Reply(404, b"not found")
        cid = request.path[len("/ipfs/") :].split("?")[0]
        found = self.content.get(cid)
        reply = Reply(200, found or b"", [("content-type", "application/octet-stream")])
        if found is None:
            reply = Reply(404, b"no link named under " + cid.encode())
        answer = self.script.next(cid) or {"kind": "ok"}
        reply = action_reply(answer, reply) or _scripted(answer["kind"], reply)
        self.record(
            {"token": cid, "title": None, "body": "", "status": reply.status}
            | {"platform": "ipfs", "headers": request.headers, "payload": None}
        )
        return reply


def _scripted(kind: str, reply: Reply) -> Reply:
    if kind == "wrong":
        return Reply(200, b'{"notification":{"title":"forged","body":"x"}}')
    if kind == "huge":
        return Reply(200, b"x" * (1 << 20))
    if kind == "error":
        return Reply(504, b"gateway timeout")
    return reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    async def run() -> None:
        port = await FakeServer(FakeIpfs()).serve(args.port)
        print(f"fake IPFS gateway on http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
