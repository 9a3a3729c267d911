"""Fake APNs: HTTP/2 over TLS, token (JWT) auth, Apple's reasons.

``python -m tests.fakes.apns --port P --cert-dir DIR`` writes a self-signed
certificate to DIR/ca.pem (the CA our client trusts) and also serves the
``/_fake`` control routes on a plain-HTTP port it prints. It checks what
Apple checks that matters to us: a provider token present, not older than
an hour, not changed on a connection more than once per 20 minutes, and a
payload within 4,096 bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path

import jwt

from tests.fakes.control import FakeService, action_reply
from tests.fakes.server import FakeServer, Reply, Request
from tests.fakes.tls import server_context, write_certificate

MAX_PAYLOAD = 4096
TOKEN_MAX_AGE = 3600
TOKEN_MIN_CHANGE = 20 * 60

REASONS = {
    "Unregistered": 410,
    "ExpiredToken": 410,
    "BadDeviceToken": 400,
    "DeviceTokenNotForTopic": 400,
    "PayloadEmpty": 400,
    "BadCollapseId": 400,
    "BadTopic": 400,
    "MissingTopic": 400,
    "TopicDisallowed": 400,
    "PayloadTooLarge": 413,
    "ExpiredProviderToken": 403,
    "InvalidProviderToken": 403,
    "MissingProviderToken": 403,
    "TooManyRequests": 429,
    "TooManyProviderTokenUpdates": 429,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
    "Shutdown": 503,
}


class FakeApns(FakeService):
    name = "apns"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.provider_tokens: set[str] = set()

    def stats(self) -> dict:
        return {"received": self.count, "provider_tokens": len(self.provider_tokens)}

    def handle(self, request: Request) -> Reply:
        if request.method != "POST" or not request.path.startswith("/3/device/"):
            return _reason("BadPath", 404)
        token = request.path[len("/3/device/") :]
        apns_id = request.headers.get("apns-id") or str(uuid.uuid4()).upper()
        reply = self._check(request) or self._scripted(token, request.connection)
        reply.headers.append(("apns-id", apns_id))

        if self.light:
            self.record({"token": token, "status": reply.status})
            return reply
        payload = request.json()
        payload = payload if isinstance(payload, dict) else {}
        alert = (payload.get("aps") or {}).get("alert") or {}
        alert = alert if isinstance(alert, dict) else {"body": str(alert)}
        self.record(
            {
                "token": token,
                "platform": "apns",
                "title": alert.get("title"),
                "body": alert.get("body"),
                "headers": request.headers,
                "payload": payload,
                "collapse_id": request.headers.get("apns-collapse-id"),
                "status": reply.action or reply.status,
                "delivered": reply.action is None
                and (reply.status == 200 or reply.delivered),
            }
        )
        return reply

    def _check(self, request: Request) -> Reply | None:
        if len(request.body) > MAX_PAYLOAD:
            return _reason("PayloadTooLarge")
        if not request.body:
            return _reason("PayloadEmpty")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("bearer "):
            return _reason("MissingProviderToken")
        provider_token = auth[len("bearer ") :]
        state = request.connection
        same = provider_token == state.get("token") and not state.get("refused")
        if same and time.time() - state["issued"] <= TOKEN_MAX_AGE:
            return None
        try:
            claims = jwt.decode(provider_token, options={"verify_signature": False})
            issued = float(claims["iat"])
            if jwt.get_unverified_header(provider_token).get("alg") != "ES256":
                raise ValueError("alg")
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            return _reason("InvalidProviderToken")
        if time.time() - issued > TOKEN_MAX_AGE:
            return _reason("ExpiredProviderToken")

        # A token change is allowed once the old token was refused.
        if state.get("token") != provider_token:
            recent = time.time() - state.get("since", 0) < TOKEN_MIN_CHANGE
            if state.get("token") and recent and not state.get("refused"):
                return _reason("TooManyProviderTokenUpdates")
            state.update(
                token=provider_token, since=time.time(), issued=issued, refused=False
            )
            self.provider_tokens.add(provider_token)
        return None

    def _scripted(self, token: str, state: dict) -> Reply:
        answer = self.script.next(token) or {"kind": "ok"}
        if REASONS.get(answer["kind"]) == 403:
            state["refused"] = True
        success = Reply(200)
        reply = action_reply(answer, success)
        if reply is None:
            kind = answer["kind"]
            reply = success if kind == "ok" else _reason(kind)
            reply.delay = float(answer.get("delay", 0))
        reply.delivered = bool(answer.get("delivered"))
        return reply


def _reason(reason: str, status: int | None = None) -> Reply:
    doc = {"reason": reason}
    status = status or REASONS[reason]
    if status == 410:
        doc["timestamp"] = int(time.time() * 1000)
    return Reply(
        status, json.dumps(doc).encode(), [("content-type", "application/json")]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--cert-dir", type=Path, required=True)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--light", action="store_true", help="record tokens only")
    args = parser.parse_args()

    async def run() -> None:
        service = FakeApns(quiet=args.quiet, light=args.light)
        cert, key = write_certificate(args.cert_dir)
        server = FakeServer(service, server_context(cert, key), checks=not args.light)
        port = await server.serve(args.port)
        control = await FakeServer(service).serve(args.control_port)
        print(
            f"fake APNs listening on https://127.0.0.1:{port} (CA {cert}); "
            f"control on http://127.0.0.1:{control}",
            flush=True,
        )
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
