"""Logging set-up: readable lines in development, JSON lines in production.

``bind`` attaches identifiers (chain, notification id, job id, ...) to every
line logged in the current context, so one notification can be followed
from its block to each device.

Both formatters pass every line through ``redact``: callers already log
tokens as ``short(token)``, and this is the net under a line that forgot,
or an exception whose text carries a token, a JWT or an RPC URL with a key.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import urlsplit

from app.addresses import short

_context: contextvars.ContextVar[tuple] = contextvars.ContextVar(
    "log_context", default=()
)


@contextmanager
def bind(**fields: object) -> Iterator[None]:
    """Add ``fields`` to every log line emitted inside the block."""
    token = _context.set((*_context.get(), *fields.items()))
    try:
        yield
    finally:
        _context.reset(token)


def notification_ids(notification: Any) -> dict[str, object]:
    """The fields that follow a notification from its log to each device."""
    return {
        "chain": notification.chain_id,
        "tx_hash": notification.tx_hash,
        "log_index": notification.log_index,
        "notification_id": notification.id,
    }


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+")
# Device tokens, API keys and JWT parts: long runs of letters and digits.
# 0x hex (hashes, addresses, calldata) is public chain data and stays.
_SECRETISH = re.compile(r"[A-Za-z0-9_\-]{32,}")
_PUBLIC_HEX = re.compile(r"0x[0-9a-fA-F]+")


def redact_url(url: str) -> str:
    """Scheme, host and port only: keys hide in userinfo, paths and queries."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{host}" + ("/…" if hidden else "")


def redact(text: str) -> str:
    """Shorten what may be a secret in free text: URLs, tokens, keys.

    Most lines hold no URL, and ``://`` is in every one the pattern takes:
    testing for it first spares a regular-expression scan of each line.
    """
    if "://" in text:
        text = _URL.sub(lambda m: _safe_url(m.group()), text)
    return _SECRETISH.sub(_shorten, text)


def _safe_url(url: str) -> str:
    try:
        return redact_url(url)
    except ValueError:
        return "<url>"


def _shorten(match: re.Match) -> str:
    run = match.group()
    if _PUBLIC_HEX.fullmatch(run):
        return run
    has_digit = any(c.isdigit() for c in run)
    has_letter = any(c.isalpha() for c in run)
    return short(run) if has_digit and has_letter else run


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context = dict(_context.get())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "context", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        safe = {
            key: redact(value) if isinstance(value, str) else value
            for key, value in line.items()
        }
        return json.dumps(safe, default=lambda value: redact(str(value)))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = getattr(record, "context", {})
        if context:
            text += " " + " ".join(f"{k}={v}" for k, v in context.items())
        return redact(text)


def configure_logging(
    production: bool, level: str = "INFO", stream: IO[str] | None = None
) -> None:
    handler = logging.StreamHandler(stream)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if production
        else TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _skip_unused_record_fields()


def _skip_unused_record_fields() -> None:
    """Stop every record from finding what no format of ours prints.

    Each record would walk the stack for its caller's file, line and
    function and look up its thread's name: a good part of the cost of an
    INFO line on the API's hot path. Neither format names them, nor do
    gunicorn's (which print the process id, kept).
    """
    logging._srcfile = None
    logging.logThreads = False
