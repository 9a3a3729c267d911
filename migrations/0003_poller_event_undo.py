"""The poller's undo records on chain_event (reorg rollback)."""

import peewee as pw

from migrations import add_column


def upgrade(db):
    add_column(db, "chain_event", "undo", pw.TextField(null=True))
