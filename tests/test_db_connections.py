"""MySQL connections: every new one shares one TLS context."""

from __future__ import annotations

import threading

import pytest

from app.db import is_mysql, make_database


def test_new_mysql_connections_share_one_tls_context(database_url):
    db = make_database(database_url)
    if not is_mysql(db):
        pytest.skip("a MySQL server is needed")
    opened = []

    def open_one() -> None:
        # A thread of its own, as the poller's hand-off: a connection the
        # pool has not got yet.
        with db.connection_context():
            opened.append(db.connection())
            db.execute_sql("SELECT 1")

    with db.connection_context():
        opened.append(db.connection())
        thread = threading.Thread(target=open_one)
        thread.start()
        thread.join()
    db.close_all()

    first, second = opened
    assert first is not second
    assert first.ctx is second.ctx
    # Still TLS when the server offers it, as PyMySQL's default is.
    assert first.ssl and not first._ssl_required
