"""Body schemas load, and refuse, exactly as marshmallow itself does."""

from __future__ import annotations

import marshmallow as ma
import pytest
from marshmallow import fields, validate

from app.api.loading import TextLoadSchema
from app.api.schemas import LoginSchema, RegisterSchema, UpdateSchema

TOKEN = "ab" * 32
BODIES = [
    (RegisterSchema, {"wallet": "0x1", "device_token": TOKEN, "platform": "ios"}),
    (RegisterSchema, {"platform": "ios", "device_token": TOKEN, "wallet": "0x1"}),
    (
        RegisterSchema,
        {"wallet": "0x1", "device_token": TOKEN, "platform": "ios", "apn_token": None},
    ),
    (
        RegisterSchema,
        {"wallet": "0x1", "device_token": TOKEN, "platform": "i", "apn_token": ""},
    ),
    (RegisterSchema, {"wallet": "0x1", "device_token": TOKEN}),
    (RegisterSchema, {"wallet": "", "device_token": TOKEN, "platform": "ios"}),
    (RegisterSchema, {"wallet": "x" * 121, "device_token": TOKEN, "platform": "a"}),
    (RegisterSchema, {"wallet": "x" * 120, "device_token": TOKEN, "platform": "a"}),
    (RegisterSchema, {"wallet": None, "device_token": TOKEN, "platform": "ios"}),
    (RegisterSchema, {"wallet": 7, "device_token": TOKEN, "platform": "ios"}),
    (RegisterSchema, {"wallet": b"0x1", "device_token": TOKEN, "platform": "ios"}),
    (RegisterSchema, {"wallet": ["0x1"], "device_token": TOKEN, "platform": "ios"}),
    (
        RegisterSchema,
        {"wallet": "0x1", "device_token": TOKEN, "platform": "ios", "extra": 1},
    ),
    (RegisterSchema, {}),
    (RegisterSchema, []),
    (RegisterSchema, "text"),
    (RegisterSchema, None),
    (LoginSchema, {"message": "m", "signature": "0x00"}),
    (LoginSchema, {"message": "m", "signature": "0x" + "0" * 8193}),
    (LoginSchema, {"message": "m"}),
    (UpdateSchema, {}),
    (UpdateSchema, {"apn_token": None}),
    (UpdateSchema, {"platform": ""}),
    (UpdateSchema, {"device_token": None}),
    (UpdateSchema, {"device_token": TOKEN, "platform": "android"}),
]


def _marshmallow(schema_class: type[ma.Schema]):
    """The same schema, loaded by marshmallow alone."""
    schema = schema_class()
    schema._texts = None
    return schema


def _outcome(schema: ma.Schema, body):
    try:
        return "loaded", schema.load(body)
    except ma.ValidationError as exc:
        return "refused", exc.messages


@pytest.mark.parametrize(("schema_class", "body"), BODIES)
def test_loads_and_refuses_as_marshmallow(schema_class, body):
    ours = _outcome(schema_class(), body)
    theirs = _outcome(_marshmallow(schema_class), body)

    assert ours == theirs
    if ours[0] == "loaded":
        assert list(ours[1]) == list(theirs[1])


def test_the_quick_path_takes_the_bodies_that_pass():
    schema = RegisterSchema()
    body = {"wallet": "0x1", "device_token": TOKEN, "platform": "ios"}

    assert schema._texts is not None
    assert schema._accept(body) == body
    assert schema._accept({**body, "wallet": 1}) is None


class _Hooked(TextLoadSchema):
    name = fields.String(required=True)

    @ma.post_load
    def upper(self, data, **kwargs):
        return {"name": data["name"].upper()}


class _Keyed(TextLoadSchema):
    name = fields.String(data_key="Name")


class _Other(TextLoadSchema):
    name = fields.String(validate=validate.OneOf(["a"]))
    count = fields.Integer()


@pytest.mark.parametrize("schema_class", [_Hooked, _Keyed, _Other])
def test_schemas_with_more_than_text_go_through_marshmallow(schema_class):
    assert schema_class()._texts is None


def test_hooks_still_run():
    assert _Hooked().load({"name": "a"}) == {"name": "A"}
