"""MySQL databases of the benchmarks, created when missing.

Each benchmark takes a database of its own, which it empties; a fresh
server has none of them, and a benchmark run on its own must not fail for
want of a ``CREATE DATABASE``.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pymysql


def create_database(database_url: str) -> None:
    """Create the database ``database_url`` names, if it is MySQL and missing."""
    url = urlparse(database_url)
    if not url.scheme.startswith("mysql"):
        return
    name = url.path.lstrip("/")
    connection = pymysql.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}`")
    finally:
        connection.close()
