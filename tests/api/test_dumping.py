"""Answer schemas dump dicts exactly as marshmallow itself would."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import marshmallow as ma
import pytest
from marshmallow import fields

from app.api.dumping import DictDumpSchema
from app.api.schemas import (
    DeletedSchema,
    DeviceListSchema,
    LoginResultSchema,
    NonceSchema,
    RegisterResultSchema,
    SessionSchema,
)

WHEN = dt.datetime(2026, 12, 4, 19, 0, 1, 234567)
DEVICE = {
    "id": 7,
    "wallet": "0x" + "ab" * 20,
    "platform": "ios",
    "token_suffix": "…abcdef",
    "has_apn_token": False,
    "created_at": WHEN,
    "updated_at": WHEN.replace(tzinfo=dt.UTC),
}
ANSWERS = [
    (RegisterResultSchema, {"result": "created", "device": DEVICE}),
    (RegisterResultSchema, {"result": "moved", "device": {**DEVICE, "id": "8"}}),
    (RegisterResultSchema, {"result": "unchanged", "device": None}),
    (RegisterResultSchema, {"result": "updated"}),
    (DeviceListSchema, {"devices": [DEVICE, {**DEVICE, "has_apn_token": 1}]}),
    (DeviceListSchema, {"devices": []}),
    (DeletedSchema, {"deleted": 3, "extra": "not in the schema"}),
    (SessionSchema, {"wallet": DEVICE["wallet"], "chain_id": 1, "expires_at": WHEN}),
    (LoginResultSchema, {"token": "t", "wallet": None, "expires_at": WHEN}),
    (NonceSchema, {"nonce": "n", "chain_ids": [1, 31337], "expires_at": WHEN}),
]


def _marshmallow_only(schema: DictDumpSchema) -> DictDumpSchema:
    """The schema, and those nested in it, with the direct path turned off."""
    schema._plain = None
    for field in schema.dump_fields.values():
        inner = getattr(field, "inner", field)
        if isinstance(inner, fields.Nested):
            _marshmallow_only(inner.schema)
    return schema


@pytest.mark.parametrize(("schema", "answer"), ANSWERS)
def test_answers_dump_as_marshmallow_dumps_them(schema, answer):
    fast = schema()

    assert fast._plain is not None
    assert fast.dump(answer) == _marshmallow_only(schema()).dump(answer)


class _Renamed(DictDumpSchema):
    name = fields.String(data_key="Name")


class _Hooked(DictDumpSchema):
    name = fields.String()

    @ma.post_dump
    def shout(self, data, **kwargs):
        return {key: value.upper() for key, value in data.items()}


class _Keys(DictDumpSchema):
    keys = fields.String()


@pytest.mark.parametrize(
    ("schema", "answer", "dumped"),
    [
        (_Renamed, {"name": "a"}, {"Name": "a"}),
        (_Hooked, {"name": "a"}, {"name": "A"}),
        (_Keys, {"keys": "a"}, {"keys": "a"}),
    ],
)
def test_schemas_marshmallow_does_more_for_go_through_marshmallow(
    schema, answer, dumped
):
    instance = schema()

    assert instance._plain is None
    assert instance.dump(answer) == dumped


def test_objects_and_lists_go_through_marshmallow():
    schema = DeletedSchema()

    assert schema.dump(SimpleNamespace(deleted=2)) == {"deleted": 2}
    assert schema.dump([{"deleted": 1}], many=True) == [{"deleted": 1}]
