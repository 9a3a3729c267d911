"""Fake FCM: the HTTP v1 send endpoint and the OAuth token endpoint.

``python -m tests.fakes.fcm --port P`` serves HTTP/1.1 and HTTP/2 (prior
knowledge) on 127.0.0.1. Error bodies are the ones Google documents, with
``details[].errorCode`` (and ``google.rpc.BadRequest`` field violations).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re

from tests.fakes.control import FakeService, action_reply
from tests.fakes.server import FakeServer, Reply, Request

_SEND = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"

# kind: (HTTP status, google status, FCM errorCode or None, violated field)
ERRORS = {
    "UNREGISTERED": (404, "NOT_FOUND", "UNREGISTERED", None),
    "INVALID_TOKEN": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.token"),
    "INVALID_PAYLOAD": (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "message.data[0].value",
    ),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", None),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", None),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", None),
    "UNAVAILABLE": (503, "UNAVAILABLE", "UNAVAILABLE", None),
    "INTERNAL": (500, "INTERNAL", "INTERNAL", None),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", None),
    "UNAUTHENTICATED": (401, "UNAUTHENTICATED", None, None),
    "PERMISSION_DENIED": (403, "PERMISSION_DENIED", None, None),
}


class FakeFcm(FakeService):
    name = "fcm"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.oauth_tokens = 0
        self._ids = itertools.count(1)

    def stats(self) -> dict:
        return {"received": self.count, "oauth_tokens": self.oauth_tokens}

    def handle(self, request: Request) -> Reply:
        if request.path == "/token" and request.method == "POST":
            self.oauth_tokens += 1
            return Reply.json(
                200,
                {
                    "access_token": f"fake-access-{self.oauth_tokens}",
                    "expires_in": 3600,
                    "token_type": "Bearer",
                },
            )
        match = _SEND.match(request.path)
        if not match or request.method != "POST":
            return Reply.json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
        doc = request.json()
        message = doc.get("message") if isinstance(doc, dict) else None
        if not isinstance(message, dict) or not message.get("token"):
            return _error("INVALID_ARGUMENT")
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error("UNAUTHENTICATED")

        token = message["token"]
        answer = self.script.next(token) or {"kind": "ok"}
        success = Reply.json(
            200, {"name": f"projects/{match.group(1)}/messages/{next(self._ids)}"}
        )
        reply = action_reply(answer, success)
        if reply is None:
            kind = answer["kind"]
            reply = success if kind == "ok" else _error(kind, answer.get("retry_after"))
            reply.delay = float(answer.get("delay", 0))
        delivered = reply.status == 200 or bool(answer.get("delivered"))
        notification = message.get("notification") or {}
        self.record(
            {
                "token": token,
                "platform": "fcm",
                "title": notification.get("title"),
                "body": notification.get("body"),
                "headers": request.headers,
                "payload": message,
                "collapse_key": (message.get("android") or {}).get("collapse_key"),
                "status": reply.action or reply.status,
                "delivered": delivered and reply.action is None,
            }
        )
        return reply


def _error(kind: str, retry_after: float | None = None) -> Reply:
    status, google_status, code, field = ERRORS[kind]
    details = []
    if code:
        details.append({"@type": _FCM_ERROR, "errorCode": code})
    if field:
        details.append(
            {
                "@type": _BAD_REQUEST,
                "fieldViolations": [{"field": field, "description": "Invalid value"}],
            }
        )
    headers = [("retry-after", str(retry_after))] if retry_after is not None else []
    return Reply.json(
        status,
        {
            "error": {
                "code": status,
                "message": f"fake {kind}",
                "status": google_status,
                "details": details,
            }
        },
        headers=headers,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--light", action="store_true", help="record tokens only")
    args = parser.parse_args()

    async def run() -> None:
        server = FakeServer(
            FakeFcm(quiet=args.quiet, light=args.light), checks=not args.light
        )
        port = await server.serve(args.port)
        print(f"fake FCM listening on http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
