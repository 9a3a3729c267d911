"""Remember which identity a channel's display meta was read from."""

import peewee as pw

from migrations import add_column


def upgrade(db):
    add_column(db, "channel", "meta_identity", pw.TextField(null=True))
