"""Schema migrations: numbered files applied once each, in order.

A migration is a module ``NNNN_name.py`` with ``upgrade(db)``. Applied names
are recorded in ``schema_migration``. Run them as one deployment step
(``python -m migrations``), never at import time: many gunicorn workers
creating the same tables at once is how start-ups crash.

``0001_initial`` creates tables from the current models, so a fresh database
gets the newest shape at once. Every later migration must therefore be
idempotent: create tables with ``safe=True`` and use ``add_column`` and
``add_index`` below, which skip what already exists.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from contextlib import contextmanager
from pathlib import Path

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from app.db import is_mysql

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.py$")


def available() -> list[Path]:
    return sorted(p for p in HERE.iterdir() if _NAME.match(p.name))


def applied(db: pw.Database) -> set[str]:
    _ensure_table(db)
    rows = db.execute_sql("SELECT name FROM schema_migration").fetchall()
    return {name for (name,) in rows}


def upgrade(db: pw.Database) -> list[str]:
    """Apply every migration not yet applied; return the names applied."""
    done: list[str] = []
    with _exclusive(db):
        already = applied(db)
        for path in available():
            name = path.stem
            if name in already:
                continue
            log.info("applying migration %s", name)
            _load(path).upgrade(db)
            db.execute_sql(
                "INSERT INTO schema_migration (name) VALUES (%s)" % db.param, (name,)
            )
            done.append(name)
    return done


def empty_database(url: str) -> pw.Database:
    """Bring the database at ``url`` up to date and delete every row.

    For benchmarks and tests only: it is how they start from nothing.
    """
    from app.db import init_database
    from app.models import ALL_MODELS

    db = init_database(url)
    db.connect(reuse_if_open=True)
    upgrade(db)
    with db.atomic():
        for model in reversed(ALL_MODELS):
            model.delete().execute()
    return db


def add_column(db: pw.Database, table: str, name: str, field: pw.Field) -> None:
    """Add ``field`` as column ``name`` unless the table already has it."""
    if name in {c.name for c in db.get_columns(table)}:
        return
    migrate(SchemaMigrator.from_database(db).add_column(table, name, field))


def add_index(
    db: pw.Database, table: str, columns: tuple[str, ...], unique: bool = False
) -> None:
    """Create the index over ``columns`` unless one with them exists."""
    if any(tuple(i.columns) == columns for i in db.get_indexes(table)):
        return
    migrate(SchemaMigrator.from_database(db).add_index(table, columns, unique))


def _ensure_table(db: pw.Database) -> None:
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migration "
        "(name VARCHAR(128) NOT NULL PRIMARY KEY)"
    )


@contextmanager
def _exclusive(db: pw.Database):
    """Serialise concurrent upgrades (two deploy steps started at once)."""
    if not is_mysql(db):
        yield
        return
    db.execute_sql("SELECT GET_LOCK('epns_schema_migration', 60)")
    try:
        yield
    finally:
        db.execute_sql("SELECT RELEASE_LOCK('epns_schema_migration')")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"migrations.m{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
