"""Dispatch columns for databases created before them: sender, payload, app id."""

import peewee as pw

from migrations import add_column


def upgrade(db):
    add_column(db, "notification", "sender", pw.CharField(max_length=42, null=True))
    add_column(db, "notification", "payload", pw.TextField(null=True))
    add_column(db, "delivery", "app_id", pw.CharField(max_length=64, default="default"))
