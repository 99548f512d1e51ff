"""Field types: one declaration each, read by the exact path with the reasons a person sees."""

import pytest

from entities.fieldtypes import FIELD_KINDS, FieldKind, InvalidValue, JsonForm
from entities.models import FieldType


def test_every_field_type_is_declared() -> None:
    assert set(FIELD_KINDS) == set(FieldType.values)


@pytest.mark.parametrize(
    ("field_type", "text", "stored"),
    [
        (FieldType.TEXT, "Ada", "Ada"),
        (FieldType.INTEGER, "-42", -42),
        (FieldType.DECIMAL, "2.50", "2.50"),
        (FieldType.DECIMAL, "1e3", "1E+3"),
        (FieldType.BOOLEAN, "YES", True),
        (FieldType.BOOLEAN, "0", False),
        (FieldType.DATE, "1815-12-10", "1815-12-10"),
        (FieldType.DATETIME, "2024-01-01T10:00:00Z", "2024-01-01T10:00:00+00:00"),
        (FieldType.EMAIL, "ada@example.com", "ada@example.com"),
        (FieldType.PHONE, "+44 20 7946 0000", "+44 20 7946 0000"),
    ],
)
def test_a_valid_value_is_read_into_what_is_stored(field_type, text, stored) -> None:
    assert FIELD_KINDS[field_type].read(text) == stored


@pytest.mark.parametrize(
    ("field_type", "text", "reason"),
    [
        (FieldType.INTEGER, "lots", "'lots' is not a whole number"),
        (FieldType.DECIMAL, "abc", "'abc' is not a number"),
        (FieldType.DECIMAL, "Infinity", "'Infinity' is not a finite number"),
        (
            FieldType.BOOLEAN,
            "maybe",
            "'maybe' is not true/false (use true, false, yes, no, 1 or 0)",
        ),
        (FieldType.DATE, "1912-13-45", "'1912-13-45' is not a date in the form YYYY-MM-DD"),
        (FieldType.DATETIME, "noon", "'noon' is not an ISO 8601 date and time"),
        (FieldType.EMAIL, "not-an-email", "'not-an-email' is not an email address"),
        (FieldType.PHONE, "12ab", "'12ab' is not a phone number"),
    ],
)
def test_an_invalid_value_says_why(field_type, text, reason) -> None:
    with pytest.raises(InvalidValue) as caught:
        FIELD_KINDS[field_type].read(text)
    assert str(caught.value) == reason


def test_a_declaration_may_check_a_pattern_then_parse() -> None:
    """Both are optional; the pattern is checked first, and parse's ValueError gives the
    declared reason."""
    import re

    hex_colour = FieldKind(
        pattern=re.compile("#"),
        parse=lambda text: int(text[1:], 16),
        invalid="{text!r} is not a colour",
        json=JsonForm.NUMBER,
    )
    assert hex_colour.read("#ff0000") == 0xFF0000
    for text in ("ff0000", "#red"):
        with pytest.raises(InvalidValue, match="is not a colour"):
            hex_colour.read(text)
