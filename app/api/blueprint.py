"""The Blueprint our routes use: smorest's, with a parser that cannot crash.

Python's JSON decoder fails in ways webargs does not expect, which Flask
would answer with a 500: it recurses once per nesting level, so a 16 KiB
body of ``[[[[…`` raises RecursionError, and it refuses integers of more
than 4,300 digits with a plain ValueError. Here each is what it is: a body
we refuse to decode. A body that is not JSON at all is refused as such
(415), not read as an empty one.
"""

from __future__ import annotations

import json

from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType


class JsonParser(FlaskParser):
    def _raw_load_json(self, req):
        _refuse_cut_stream(req)
        if not is_json_request(req) and req.get_data(cache=True):
            # webargs would read no body at all and report its fields
            # missing: the client is better told what is wrong.
            raise UnsupportedMediaType("send the body as application/json")
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (RecursionError, ValueError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
            raise json.JSONDecodeError(str(reason), "{", 0) from None


def _refuse_cut_stream(req) -> None:
    """A body streamed without Content-Length (chunked) is cut at the size
    limit and would read as broken JSON: one that fills the limit is too
    large, as one that announces more is."""
    limit = req.max_content_length
    streamed = req.content_length is None and limit is not None
    if streamed and len(req.get_data(cache=True)) >= limit:
        raise RequestEntityTooLarge()


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = JsonParser()
