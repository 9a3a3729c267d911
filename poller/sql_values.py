"""The VALUES list of a multi-row INSERT, mostly as SQL literals.

A backfill inserts tens of thousands of rows a second; PyMySQL escapes
every parameter in Python, which cost more than the database spent on the
rows. Nearly every value the poller stores is an integer, a hex string or
bytes, whose literal is a plain format. Only the other values are left to
the driver: on MySQL through the connection's own escaping (remembered per
value, since a batch repeats the same timestamp on every row), on SQLite as
parameters, which its C driver binds at no cost worth saving.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import peewee as pw

from app.db import is_mysql

# Text that needs no escaping in either dialect and holds no '%': PyMySQL
# runs every statement peewee hands it through '%' formatting.
_PLAIN = re.compile(r"[0-9A-Za-z_.:+\-]*")


class Values:
    """Builds ``(..), (..)`` for rows of one INSERT; ``params`` holds the
    values left to the driver, in order."""

    def __init__(self, db: pw.Database) -> None:
        self.params: list[object] = []
        self._param = db.param
        self._escape = db.connection().escape if is_mysql(db) else None
        self._escaped: dict[tuple[type, object], str] = {}

    def rows(self, rows: Sequence[dict], columns: Sequence[str]) -> str:
        literal = self.literal
        return ", ".join(
            "(" + ", ".join([literal(row[c]) for c in columns]) + ")" for row in rows
        )

    def literal(self, value: object) -> str:
        kind = type(value)
        if kind is int:
            return str(value)
        if kind is str and _PLAIN.fullmatch(value):
            return f"'{value}'"
        if kind is bytes:
            return f"X'{value.hex()}'"
        if value is None:
            return "NULL"
        return self._by_driver(value)

    def _by_driver(self, value: object) -> str:
        if self._escape is None:
            self.params.append(value)
            return self._param
        key = (type(value), value)  # True and 1.0 are equal keys otherwise
        try:
            return self._escaped[key]
        except KeyError:
            escaped = self._escaped[key] = self._mysql_literal(value)
            return escaped
        except TypeError:  # unhashable: escape it every time
            return self._mysql_literal(value)

    def _mysql_literal(self, value: object) -> str:
        return self._escape(value).replace("%", "%%")
