"""The Blueprint our routes use: smorest's, with a parser that cannot crash.

Python's JSON decoder recurses once per nesting level, so a 16 KiB body of
``[[[[…`` raises RecursionError, which webargs does not expect and Flask
would answer with a 500. Here it is what it is: a body we refuse to decode.
"""

from __future__ import annotations

import json

from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser


class JsonParser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "[", 0) from None


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = JsonParser()
