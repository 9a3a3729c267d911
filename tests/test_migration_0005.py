"""Migration 0005 adds its columns to a database made before it, idempotently."""

from __future__ import annotations

from playhouse.migrate import SchemaMigrator, migrate

from app.models import ChainEvent, Checkpoint
from migrations import HERE, _load


def _columns(db, table: str) -> set[str]:
    return {column.name for column in db.get_columns(table)}


def test_0005_adds_head_block_and_created_at_once(db):
    ChainEvent.insert(
        chain_id=1,
        block_number=5,
        block_hash="0x" + "aa" * 32,
        tx_hash="0x" + "bb" * 32,
        log_index=0,
        contract="0x" + "00" * 20,
        name="Subscribe",
        args="{}",
    ).execute()
    migrator = SchemaMigrator.from_database(db.obj)
    migrate(
        migrator.drop_column("checkpoint", "head_block"),
        migrator.drop_column("chain_event", "created_at"),
    )
    assert "head_block" not in _columns(db, "checkpoint")

    module = _load(HERE / "0005_ops_health_columns.py")
    module.upgrade(db.obj)
    module.upgrade(db.obj)

    assert "head_block" in _columns(db, "checkpoint")
    assert "created_at" in _columns(db, "chain_event")
    assert ChainEvent.get().created_at is not None
    Checkpoint.create(chain_id=1, block_number=1, block_hash="0x", head_block=9)
    assert Checkpoint.get_by_id(1).head_block == 9
