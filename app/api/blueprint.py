"""The Blueprint our routes use: smorest's, with a parser that cannot crash.

Python's JSON decoder fails in ways webargs does not expect, which Flask
would answer with a 500: it recurses once per nesting level, so a 16 KiB
body of ``[[[[…`` raises RecursionError, and it refuses integers of more
than 4,300 digits with a plain ValueError. Here each is what it is: a body
we refuse to decode.
"""

from __future__ import annotations

import json

from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser


class JsonParser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (RecursionError, ValueError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
            raise json.JSONDecodeError(str(reason), "{", 0) from None


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = JsonParser()
