"""Checkpoint.head_block for readiness, ChainEvent.created_at for pruning.

Rows written before this migration get its time as ``created_at``, so
pruning counts their age from the upgrade rather than never pruning them.
"""

import peewee as pw

from app.models import utcnow
from migrations import add_column


def upgrade(db):
    add_column(db, "checkpoint", "head_block", pw.BigIntegerField(null=True))
    add_column(db, "chain_event", "created_at", pw.DateTimeField(default=utcnow))
