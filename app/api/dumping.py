"""Answer schemas that dump plain dicts without marshmallow's per-field lookups.

The views hand their answers to smorest as dicts of ready values; dumping
them through a schema spent more time finding each value (an accessor, a
dotted-path check, a fallback to attributes, a default) than formatting it.
``DictDumpSchema`` takes each value straight from the dict and formats it
with the field's own ``_serialize``, which is what marshmallow ends up
calling. It does so only where that is the whole of marshmallow's work: no
dump hooks, no ``data_key`` or ``attribute``, no dump defaults, no custom
accessors. Anything else, and anything that is not a dict, goes through
marshmallow as usual.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from marshmallow.utils import missing


class DictDumpSchema(ma.Schema):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._plain = _plain_fields(self)

    def dump(self, obj: Any, *, many: bool | None = None):
        if self._plain is None or many or self.many or type(obj) is not dict:
            return super().dump(obj, many=many)
        return {
            name: field._serialize(obj[name], name, obj)
            for name, field in self._plain
            if name in obj
        }


def _plain_fields(schema: ma.Schema) -> tuple[tuple[str, fields.Field], ...] | None:
    """The fields, if dumping a dict through them is only ``_serialize``."""
    if schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP]:
        return None
    if type(schema).get_attribute is not ma.Schema.get_attribute:
        return None
    plain = tuple(schema.dump_fields.items())
    if all(_is_plain(name, field) for name, field in plain):
        return plain
    return None


def _is_plain(name: str, field: fields.Field) -> bool:
    return (
        field.data_key is None
        and field.attribute is None
        and field.dump_default is missing
        and field._CHECK_ATTRIBUTE
        and type(field).serialize is fields.Field.serialize
        and type(field).get_value is fields.Field.get_value
        # A missing key falls back to getattr: a dict's own attribute names
        # would then dump a method; "a.b" is a path into nested dicts.
        and not hasattr(dict, name)
        and "." not in name
    )
