"""The VALUES list of a multi-row INSERT, mostly as SQL literals.

A backfill inserts tens of thousands of rows a second; PyMySQL escapes
every parameter in Python, which cost more than the database spent on the
rows. Nearly every value the poller stores is an integer, a hex string,
bytes or a timestamp, whose literal is a plain format; any other value is
left to the driver as a parameter. No connection is needed, so a range's
statements can be written out while the previous range is being stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

import peewee as pw

# Text that needs no escaping in either dialect and holds no '%': PyMySQL
# runs every statement peewee hands it through '%' formatting.
_PLAIN = re.compile(r"[0-9A-Za-z_.:+\-]*")


def plain(texts: Iterable[str]) -> bool:
    """Whether every one of the texts can be written as a literal as it is,
    checked in one pass over all of them."""
    try:
        return _PLAIN.fullmatch("".join(texts)) is not None
    except TypeError:  # not all text
        return False


class Values:
    """Builds ``(..), (..)`` for rows of one INSERT; ``params`` holds the
    values left to the driver, in order."""

    def __init__(self, db: pw.Database) -> None:
        self.params: list[object] = []
        self._param = db.param
        self._stamps: dict[dt.datetime, str] = {}

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
        if kind is dt.datetime and value.tzinfo is None:
            return self._stamp(value)
        self.params.append(value)
        return self._param

    def _stamp(self, value: dt.datetime) -> str:
        """As both drivers write a naive datetime; a batch repeats one."""
        try:
            return self._stamps[value]
        except KeyError:
            literal = self._stamps[value] = f"'{value.isoformat(' ')}'"
            return literal
