"""Body schemas that take well-formed text bodies without marshmallow's walk.

Loading a flat body of strings through marshmallow runs, for each field, a
getter, an error store, the deserialize wrapper and the validator chain:
most of what the register route spends on its body. ``TextLoadSchema``
makes the same checks itself on a body that passes them all (known keys
only, each a ``str`` within its ``Length``, or None where allowed, every
required field there) and returns what marshmallow would. A body that fails
any check goes through marshmallow, so every refusal and its message are
marshmallow's own; so does every schema with more than text fields (hooks,
data keys, defaults, other fields or validators).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.utils import missing


@dataclass(frozen=True)
class _Text:
    required: bool
    allow_none: bool
    shortest: int
    longest: float


class TextLoadSchema(ma.Schema):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._texts = _text_fields(self)

    def load(self, data, *, many=None, partial=None, unknown=None):
        quick = (
            self._texts is not None
            and not (many or self.many or partial)
            and (unknown or self.unknown) == ma.RAISE
            and type(data) is dict
        )
        loaded = self._accept(data) if quick else None
        if loaded is None:
            return super().load(data, many=many, partial=partial, unknown=unknown)
        return loaded

    def _accept(self, data: dict) -> dict | None:
        """``data`` as marshmallow loads it, or None if marshmallow must look."""
        texts = self._texts
        for name, value in data.items():
            text = texts.get(name)
            if text is None:
                return None
            if value is None:
                if not text.allow_none:
                    return None
            elif type(value) is not str or not (
                text.shortest <= len(value) <= text.longest
            ):
                return None
        for name, text in texts.items():
            if text.required and name not in data:
                return None
        return {name: data[name] for name in texts if name in data}


def _text_fields(schema: ma.Schema) -> dict[str, _Text] | None:
    """The fields' rules, if every field is a plain length-checked String."""
    if any(schema._hooks[tag] for tag in (PRE_LOAD, POST_LOAD, VALIDATES)):
        return None
    if schema._hooks[VALIDATES_SCHEMA]:
        return None
    texts = {}
    for name, field in schema.load_fields.items():
        text = _text(name, field)
        if text is None:
            return None
        texts[name] = text
    return texts


def _text(name: str, field: fields.Field) -> _Text | None:
    plain = (
        type(field) is fields.String
        and field.data_key is None
        and field.attribute is None
        and field.load_default is missing
        and name == field.name
    )
    if not plain or len(field.validators) > 1:
        return None
    shortest, longest = 0, float("inf")
    if field.validators:
        rule = field.validators[0]
        if type(rule) is not validate.Length or rule.equal is not None:
            return None
        shortest = rule.min or 0
        longest = rule.max if rule.max is not None else float("inf")
    return _Text(field.required, field.allow_none, shortest, longest)
