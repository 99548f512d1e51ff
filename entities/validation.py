"""The exact cleaner: a file's raw value made into its field's typed value, or the reason why not.

The rule of each field type is declared once in entities.fieldtypes; this module adds what
every field shares (empty values, required, max length, the field's own pattern, values the
database cannot store) and says, in words a person can act on, what is wrong.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any

from entities.fieldtypes import FIELD_KINDS, InvalidValue
from entities.models import EntityField


@dataclass(frozen=True)
class FieldSpec:
    """A plain, picklable copy of an EntityField used on the hot path."""

    name: str
    field_type: str
    required: bool
    is_unique_identifier: bool
    max_length: int | None
    validation_regex: str

    @cached_property
    def cleaner(self) -> Callable[[Any], Any]:
        """The field's exact cleaner, built once (it runs for every value the fast paths do not
        take): the typed value for a raw one, None for an empty one, or InvalidValue."""
        return _make_cleaner(self)

    @classmethod
    def from_field(cls, field: EntityField) -> "FieldSpec":
        return cls(
            name=field.name,
            field_type=field.field_type,
            required=field.required or field.is_unique_identifier,
            is_unique_identifier=field.is_unique_identifier,
            max_length=field.max_length,
            validation_regex=field.validation_regex,
        )


@lru_cache(maxsize=256)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """A field's validation_regex, compiled once per process."""
    return re.compile(pattern)


def as_text(raw: Any) -> str | None:
    """JSON files give typed values; CSV gives text. Normalise both to text or None."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float | Decimal):
        return str(raw)
    if isinstance(raw, str):
        stripped = raw.strip()
        return stripped or None
    raise InvalidValue(f"a {type(raw).__name__} is not a single value")


def check_storable(text: str) -> None:
    """PostgreSQL's text and jsonb reject NUL and unpaired surrogates (from JSON "\\ud800")."""
    if "\x00" in text:
        raise InvalidValue("contains a NUL character, which cannot be stored")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValue("contains an invalid Unicode character") from None


def _make_cleaner(spec: FieldSpec) -> Callable[[Any], Any]:
    read = FIELD_KINDS[spec.field_type].read
    required, max_length = spec.required, spec.max_length
    pattern = compiled_pattern(spec.validation_regex) if spec.validation_regex else None

    def clean(raw: Any) -> Any:
        text = (raw.strip() or None) if raw.__class__ is str else as_text(raw)
        if text is None:
            if required:
                raise InvalidValue("is required but empty")
            return None
        if max_length is not None and len(text) > max_length:
            raise InvalidValue(f"is {len(text)} characters long; at most {max_length} allowed")
        if pattern is not None and not pattern.fullmatch(text):
            raise InvalidValue(f"{text!r} does not match the pattern {spec.validation_regex}")
        value = read(text)
        if value.__class__ is str and ("\x00" in value or not value.isascii()):
            check_storable(value)
        return value

    return clean
