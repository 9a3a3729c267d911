"""Queries compiled to SQL once per process, for the API's hottest paths.

Building a peewee query costs far more CPU than running it on a pooled
connection: the session check, the token lookup and the insert, rebuilt on
every request, took more time than the database did. A ``Prepared`` query
is built once per database dialect with named placeholders; each call
passes the values by name and reuses the SQL text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import peewee as pw

from app.db import database

_MARK = "\x00param:"


class Prepared:
    """``build(param)`` returns the query, with ``param(name)`` for each value.

    ``columns`` are the fields a SELECT returns, so rows come back converted
    as peewee would convert them (SQLite hands times back as text). Values
    are passed as the database takes them: use ``field.db_value`` if unsure.
    """

    def __init__(
        self,
        build: Callable[[Callable[[str], str]], pw.Query],
        columns: Sequence[pw.Field] = (),
    ):
        self._build = build
        self._columns = tuple(columns)
        self._compiled: dict[type, tuple[str, tuple[str, ...]]] = {}

    def compile(self) -> tuple[str, tuple[str, ...]]:
        """The SQL text and the parameter names in placeholder order."""
        dialect = type(database.obj)
        if dialect not in self._compiled:
            sql, params = self._build(lambda name: _MARK + name).sql()
            if not all(isinstance(p, str) and p.startswith(_MARK) for p in params):
                raise ValueError(f"query has a literal that is no param: {params}")
            names = tuple(p.removeprefix(_MARK) for p in params)
            self._compiled[dialect] = (sql, names)
        return self._compiled[dialect]

    def execute(self, **values: Any):
        sql, names = self.compile()
        return database.execute_sql(sql, tuple(values[name] for name in names))

    def first(self, **values: Any) -> tuple | None:
        row = self.execute(**values).fetchone()
        if row is None or not self._columns:
            return row
        return tuple(f.python_value(v) for f, v in zip(self._columns, row, strict=True))
