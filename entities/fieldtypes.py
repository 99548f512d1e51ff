"""What each field type accepts: one declaration per FieldType, the only place its rule lives.

The exact cleaner (entities.validation, which says what is wrong with a value) and the ingest
writer's fast paths (ingest.writing.compiled, generated code that steps aside for anything it
cannot take) are both derived from these declarations, and a differential test holds the
second to the first. A new field type is its FieldType choice, one FieldKind here and its
cases in tests/entities/test_fieldtypes.py.
"""

import datetime as dt
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from entities.models import FieldType


class InvalidValue(ValueError):
    """A value that does not fit its field; the message is shown to the user."""


class JsonForm(enum.Enum):
    """How a parsed value is written as JSON text (the writer writes it without `json`)."""

    STRING = "string"  # a str that needs no escaping in JSON: '"' + value + '"'
    NUMBER = "number"  # an int: str(value)
    BOOLEAN = "boolean"  # a bool: true or false


@dataclass(frozen=True)
class FieldKind:
    """The rule of one field type, applied to a value's text once it is stripped and not empty
    (the field's own settings, required, max length and pattern, are checked before it).

    `pattern`: the text is valid only if it matches (re.match); it is stored as it is.
    `parse`: the text made into the stored value; raises ValueError if the text is not one
    (or InvalidValue with a reason of its own). None: the text is stored as it is.
    `invalid`: the reason shown when the pattern does not match or parse raised ValueError;
    `{text!r}` stands for the value.
    `json`: what JSON the parsed value is (a str is written between quotes as it is)."""

    pattern: re.Pattern[str] | None = None
    parse: Callable[[str], Any] | None = None
    invalid: str = ""
    json: JsonForm = JsonForm.STRING

    def read(self, text: str) -> Any:
        """The stored value of `text`, or InvalidValue saying why it is not one."""
        if self.pattern is not None and self.pattern.match(text) is None:
            raise InvalidValue(self.invalid.format(text=text))
        if self.parse is None:
            return text
        try:
            return self.parse(text)
        except InvalidValue:
            raise
        except ValueError:
            raise InvalidValue(self.invalid.format(text=text)) from None


TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


def _decimal(text: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not number.is_finite():
        raise InvalidValue(f"{text!r} is not a finite number")
    return str(number)


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(text)


def _date(text: str) -> str:
    return dt.date.fromisoformat(text).isoformat()


def _datetime(text: str) -> str:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()


FIELD_KINDS: dict[str, FieldKind] = {
    FieldType.TEXT: FieldKind(),
    FieldType.INTEGER: FieldKind(
        parse=int, invalid="{text!r} is not a whole number", json=JsonForm.NUMBER
    ),
    FieldType.DECIMAL: FieldKind(parse=_decimal, invalid="{text!r} is not a number"),
    FieldType.BOOLEAN: FieldKind(
        parse=_boolean,
        invalid="{text!r} is not true/false (use true, false, yes, no, 1 or 0)",
        json=JsonForm.BOOLEAN,
    ),
    FieldType.DATE: FieldKind(parse=_date, invalid="{text!r} is not a date in the form YYYY-MM-DD"),
    FieldType.DATETIME: FieldKind(
        parse=_datetime, invalid="{text!r} is not an ISO 8601 date and time"
    ),
    FieldType.EMAIL: FieldKind(
        pattern=re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
        invalid="{text!r} is not an email address",
    ),
    FieldType.PHONE: FieldKind(
        pattern=re.compile(r"^\+?[0-9 ().\-]{6,20}$"), invalid="{text!r} is not a phone number"
    ),
}

_undeclared = set(FieldType.values) - set(FIELD_KINDS)
if _undeclared:  # a FieldType choice without its rule would fail every file at its first value
    raise RuntimeError(f"entities.fieldtypes: no FieldKind for {sorted(_undeclared)}")
