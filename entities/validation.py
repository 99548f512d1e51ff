"""Turn raw text values from a file into typed, validated entity values.

Each error names the field and says what was wrong in words a person can act on.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache
from typing import Any

from entities.models import EntityField, FieldType

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9 ().\-]{6,20}$")
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}


class InvalidValue(ValueError):
    """A value that does not fit its field; the message is shown to the user."""


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
    def cleaner(self) -> "Callable[[Any], Any]":
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
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _to_integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidValue(f"{text!r} is not a whole number") from None


def _to_decimal(text: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise InvalidValue(f"{text!r} is not a finite number")
    return str(number)


def _to_boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise InvalidValue(f"{text!r} is not true/false (use true, false, yes, no, 1 or 0)")


def _to_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _to_datetime(text: str) -> str:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise InvalidValue(f"{text!r} is not an ISO 8601 date and time") from None


def _to_email(text: str) -> str:
    if not EMAIL_RE.match(text):
        raise InvalidValue(f"{text!r} is not an email address")
    return text


def _to_phone(text: str) -> str:
    if not PHONE_RE.match(text):
        raise InvalidValue(f"{text!r} is not a phone number")
    return text


CONVERTERS = {
    FieldType.TEXT: str,
    FieldType.INTEGER: _to_integer,
    FieldType.DECIMAL: _to_decimal,
    FieldType.BOOLEAN: _to_boolean,
    FieldType.DATE: _to_date,
    FieldType.DATETIME: _to_datetime,
    FieldType.EMAIL: _to_email,
    FieldType.PHONE: _to_phone,
}


def _as_text(raw: Any) -> str | None:
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


def clean_value(spec: FieldSpec, raw: Any) -> Any:
    """Return the typed value for `raw`, None for an empty one, or raise InvalidValue."""
    return spec.cleaner(raw)


def _make_cleaner(spec: FieldSpec) -> Callable[[Any], Any]:
    """One closure per field, built once: this runs for every value of every row."""
    convert = CONVERTERS[FieldType(spec.field_type)]
    is_text = spec.field_type == FieldType.TEXT
    required, max_length = spec.required, spec.max_length
    pattern = _compiled(spec.validation_regex) if spec.validation_regex else None

    def clean(raw: Any) -> Any:
        text = (raw.strip() or None) if raw.__class__ is str else _as_text(raw)
        if text is None:
            if required:
                raise InvalidValue("is required but empty")
            return None
        if max_length is not None and len(text) > max_length:
            raise InvalidValue(f"is {len(text)} characters long; at most {max_length} allowed")
        if pattern is not None and not pattern.fullmatch(text):
            raise InvalidValue(f"{text!r} does not match the pattern {spec.validation_regex}")
        return text if is_text else convert(text)

    return clean
