"""The generated fast paths against the exact path: on every field type, with odd values and
with values generated near and far from each type's rule, a fast path either gives exactly what
the exact path gives or steps aside, so that the exact path says what is wrong; and it steps
aside only for what the exact path rejects (or, writing JSON by hand, would need escaping).
"""

import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entities.models import EntityField, EntityType, FieldType
from entities.validation import FieldSpec
from ingest.types import ParsedRow
from ingest.writing.compiled import block_cleaner, row_cleaner, row_cleaner_source
from ingest.writing.jsontext import dumps
from ingest.writing.plan import Plan, plan_for
from ingest.writing.rows import clean_row, external_id
from tests.support.ingest_configs import config_for, config_of

ODD_VALUES: list[Any] = [
    "", "  ", "x", " padded ", "José", "a\x00b", "\ud800", "12", " 7 ", "-3", "1.5", "1e3",
    "NaN", "Infinity", "true", "YES", "0", "maybe", "2024-02-29", "2023-02-29",
    "2024-01-01T10:00:00Z",
    "ada@example.com", "not-an-email", "+44 20 7946 0000", "12ab", "x" * 300, "ABC-123", "abc-123",
    12, 1.5, True, None, [1], {"a": 1},
]  # fmt: skip


@pytest.fixture
def every_type() -> EntityType:
    entity = EntityType.objects.create(name="Every type", category="custom")
    specs = [
        ("code", "text", {"is_unique_identifier": True, "validation_regex": r"[A-Z]+-\d+"}),
        ("name", "text", {"required": True, "max_length": 10}),
        ("note", "text", {}),
        ("count", "integer", {}),
        ("amount", "decimal", {}),
        ("active", "boolean", {}),
        ("born", "date", {}),
        ("seen_at", "datetime", {}),
        ("email", "email", {}),
        ("phone", "phone", {}),
    ]
    for position, (name, field_type, extra) in enumerate(specs):
        EntityField.objects.create(
            entity_type=entity, name=name, field_type=field_type, position=position, **extra
        )
    return entity


def exact(values: dict[str, Any], plan: Plan, line: int = 1) -> tuple[str | None, Any, list[Any]]:
    """(external id, typed data, problems) by the exact path."""
    cleaned = clean_row(ParsedRow(line, values), plan)
    identifier = cleaned.data.get(plan.identifier.field)
    found_id, problem = external_id(plan.identifier, identifier, line)
    problems = cleaned.problems + ([problem] if problem and not cleaned.problems else [])
    return found_id, cleaned.data, problems


# --- odd values on an entity of every type ---------------------------------------------------


@pytest.mark.django_db
def test_the_fast_path_takes_a_row_only_when_the_exact_path_finds_it_valid(every_type) -> None:
    """For every field and many odd values, the generated cleaner either gives what the exact
    path gives or steps aside (raises), so the exact path can say what is wrong."""
    plan = plan_for(config_for(every_type))
    fast = row_cleaner(plan)
    assert fast is not None
    base = {
        "code": "ABC-1", "name": "Ada", "note": "n", "count": "3", "amount": "2.50",
        "active": "yes", "born": "1815-12-10", "seen_at": "2024-01-01T10:00:00",
        "email": "ada@example.com", "phone": "+44 20 7946 0000",
    }  # fmt: skip
    taken = 0
    for column in base:
        for odd in ODD_VALUES:
            values = {**base, column: odd}
            try:
                found_id, data = fast(values)
            except Exception:  # stepping aside is always allowed  # noqa: S112
                continue
            taken += 1
            assert exact(values, plan) == (found_id, data, []), (column, odd)
    assert taken > 50  # the fast path really does take the usual rows
    missing = {k: v for k, v in base.items() if k != "note"}
    with pytest.raises(KeyError):
        fast(missing)  # a column the row lacks: the exact path decides (null or error)


@pytest.mark.django_db
@pytest.mark.parametrize("encoded", [False, True], ids=["dicts", "json text"])
def test_the_block_cleaner_takes_a_row_only_when_the_exact_path_finds_it_valid(
    every_type, encoded
) -> None:
    """The generated cleaner of plain CSV rows (lists of text) either gives what the exact path
    gives, as a dict or as the very JSON text json would encode it to, or stops at the row."""
    plan = plan_for(config_for(every_type))
    header = ("extra", "code", "name", "note", "count", "amount", "active", "born", "seen_at",
              "email", "phone")  # fmt: skip
    base = ["z", "ABC-1", "Ada", "n", "3", "2.50", "yes", "1815-12-10", "2024-01-01T10:00:00",
            "ada@example.com", "+44 20 7946 0000"]  # fmt: skip
    clean = block_cleaner(plan, header, encoded, False)  # rows checked one by one
    assert clean is not None
    odd_text = [odd for odd in ODD_VALUES if isinstance(odd, str)]
    odd_text += ['say "hi"', "back\\slash", "tab\there", "\x7f", "TRUE", "0.0000001", "007"]
    rows = [
        [*base[:column], odd, *base[column + 1 :]] for column in range(1, 11) for odd in odd_text
    ]
    taken = 0
    for row in rows:
        out: list[Any] = []
        if clean([row], 0, 1, 5, out) == 0:
            continue  # stepping aside is always allowed
        taken += 1
        (candidate,) = out
        found_id, data, problems = exact(dict(zip(header, row, strict=True)), plan, 5)
        assert problems == [], row
        assert candidate.line == 5
        assert candidate.external_id == found_id
        if encoded:
            assert candidate.data == dumps(data), row
            assert json.loads(candidate.data) == data
        else:
            assert candidate.data == data, row
    assert taken > 50  # it really does take the usual rows
    # A run stops at the first row it cannot take, and at `stop`.
    out = []
    assert clean([base, base, base[:-1], base], 0, 4, 2, out) == 2
    assert [c.line for c in out] == [2, 3]
    assert clean([base, base, base], 1, 2, 2, out) == 2 and len(out) == 3


@pytest.mark.django_db
def test_a_column_the_file_lacks_is_null_in_the_block_cleaner() -> None:
    plan = plan_for(config_for(EntityType.objects.get(name="Profile")))
    for encoded in (False, True):
        clean = block_cleaner(plan, ("profile_id", "email"), encoded, True)
        assert clean is not None
        out: list[Any] = []
        assert clean([["p1", "a@example.com"]], 0, 1, 2, out) == 1
        data = json.loads(out[0].data) if encoded else out[0].data
        assert data["profile_id"] == "p1" and data["first_name"] is None


@pytest.mark.django_db
def test_patch_never_takes_the_fast_path() -> None:
    plan = plan_for(config_for(EntityType.objects.get(name="Profile"), "patch"))
    assert row_cleaner(plan) is None
    assert block_cleaner(plan, ("profile_id",), True, True) is None


# --- generated values, every field type ------------------------------------------------------

PADDING = st.sampled_from(["", " ", "  ", "\t", " \n"])


def padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(PADDING, values, PADDING).map("".join)


def any_case(words: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(words).flatmap(
        lambda word: st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
            lambda upper: "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
        )
    )


DIGITS = st.text("0123456789", min_size=1, max_size=25)
SIGN = st.sampled_from(["", "-", "+"])

# Values near each type's rule, valid and not: a new field type adds its own here.
NEAR: dict[str, st.SearchStrategy[str]] = {
    FieldType.TEXT: st.text(max_size=20),
    FieldType.INTEGER: st.one_of(
        st.tuples(SIGN, DIGITS).map("".join),
        st.integers().map(str),
        st.sampled_from(["1_000", "0x1f", "1.0", "1e3", "٣", "--1", "+", "9" * 5000]),
    ),
    FieldType.DECIMAL: st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.tuples(SIGN, DIGITS, st.sampled_from(["", ".", ".5", "e3", "E-2", "e"])).map("".join),
        st.sampled_from(["NaN", "-Infinity", "inf", "sNaN", "1_0.5", ".", "1,5", "0.0000001"]),
    ),
    FieldType.BOOLEAN: st.one_of(
        any_case(["true", "t", "yes", "y", "1", "false", "f", "no", "n", "0"]),
        any_case(["maybe", "tru", "yess", "on", "off", "2", "-1"]),
    ),
    FieldType.DATE: st.one_of(
        st.dates().map(str),
        st.dates().map(lambda d: d.strftime("%Y%m%d")),
        st.sampled_from(["2023-02-29", "2024-02-29", "2024-13-01", "2024-1-1", "0000-01-01"]),
    ),
    FieldType.DATETIME: st.one_of(
        st.datetimes().map(lambda d: d.isoformat()),
        st.datetimes().map(lambda d: d.isoformat() + "Z"),
        st.datetimes().map(lambda d: d.isoformat(sep=" ", timespec="minutes") + "+05:30"),
        st.sampled_from(["2024-01-01T25:00", "2024-01-01TZ", "2024-01-01 10:00:00z", "now"]),
    ),
    FieldType.EMAIL: st.one_of(
        st.emails(),
        st.tuples(st.text(max_size=6), st.sampled_from(["@", "@@", ""]), st.text(max_size=8)).map(
            "".join
        ),
        st.sampled_from(["a@b", "a b@c.d", "@c.d", "a@.d", "a@b.", "Zoë@exämple.com"]),
    ),
    FieldType.PHONE: st.one_of(
        st.text("+0123456789 ().-", max_size=24),
        st.sampled_from(["+44 20 7946 0000", "12345", "1234567890123456789012", "555-CALL"]),
    ),
}
# Anything, and what needs care: quotes, backslashes, control characters, NUL, non-ASCII
# letters and lone surrogates (which JSON files can hold).
FAR = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(codec="utf-8"), max_size=8),
    st.sampled_from(['"', "\\", "\x00", "\x7f", "\ud800", "a\tb", "Zoë", "🙂", "", "   "]),
)
TEXT_VALUES = {field_type: padded(st.one_of(near, FAR)) for field_type, near in NEAR.items()}
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.lists(st.integers(), max_size=2)
)


def test_every_field_type_has_generated_values() -> None:
    assert set(NEAR) == set(FieldType.values)


def plan_of(field_type: str, *, required: bool, max_length: int | None, regex: str) -> Plan:
    """An entity of an identifier (text) and one field of the type, read from columns "id"
    and "v"."""
    fields = (
        FieldSpec("id", FieldType.TEXT, True, True, None, ""),
        FieldSpec("value", field_type, required, False, max_length, regex),
    )
    return plan_for(config_of(fields, mapping={"id": "id", "value": "v"}))


FIELD_SETTINGS = [
    {"required": False, "max_length": None, "regex": ""},
    {"required": True, "max_length": 10, "regex": ""},
    {"required": False, "max_length": None, "regex": r"[^x]*"},
]
GENERATED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def needs_no_escaping(text: str) -> bool:
    return text.isprintable() and text.isascii() and '"' not in text and "\\" not in text


@pytest.mark.parametrize("field_settings", FIELD_SETTINGS, ids=["plain", "required", "pattern"])
@pytest.mark.parametrize("field_type", FieldType.values)
@GENERATED
@given(data=st.data())
def test_the_row_cleaner_gives_what_the_exact_path_gives(field_type, field_settings, data) -> None:
    plan = plan_of(field_type, **field_settings)
    fast = row_cleaner(plan)
    assert fast is not None
    value = data.draw(st.one_of(TEXT_VALUES[field_type], JSON_VALUES), label="value")
    identifier = data.draw(st.one_of(st.just("id-1"), TEXT_VALUES[FieldType.TEXT]), label="id")
    values = {"id": identifier, "v": value}
    found_id, cleaned, problems = exact(values, plan)
    try:
        taken = fast(values)
    except Exception:
        taken = None
    if taken is not None:
        assert problems == [] and taken == (found_id, cleaned)
    elif isinstance(value, str) and isinstance(identifier, str):
        assert problems or found_id is None  # text the exact path takes, the fast path takes


@pytest.mark.parametrize("encoded", [False, True], ids=["dicts", "json text"])
@pytest.mark.parametrize("field_settings", FIELD_SETTINGS, ids=["plain", "required", "pattern"])
@pytest.mark.parametrize("field_type", FieldType.values)
@GENERATED
@given(data=st.data())
def test_the_block_cleaner_gives_what_the_exact_path_gives(
    field_type, field_settings, encoded, data
) -> None:
    plan = plan_of(field_type, **field_settings)
    value = data.draw(TEXT_VALUES[field_type], label="value")
    identifier = data.draw(st.one_of(st.just("id-1"), TEXT_VALUES[FieldType.TEXT]), label="id")
    row = [identifier, "other", value]
    clean_block = needs_no_escaping("".join(row)) and data.draw(st.booleans(), label="clean")
    clean = block_cleaner(plan, ("id", "other", "v"), encoded, clean_block)
    assert clean is not None
    out: list[Any] = []
    taken = clean([row], 0, 1, 7, out) == 1
    found_id, cleaned, problems = exact({"id": identifier, "v": value}, plan, 7)
    if taken:
        (candidate,) = out
        assert problems == [] and (candidate.line, candidate.external_id) == (7, found_id)
        assert candidate.data == (dumps(cleaned) if encoded else cleaned)
    elif not encoded or needs_no_escaping("".join(row)):
        assert problems or found_id is None  # text the exact path takes, the cleaner takes


@pytest.mark.parametrize("field_type", FieldType.values)
def test_usual_values_of_every_type_take_the_fast_path(field_type) -> None:
    usual = {
        "text": "Ada", "integer": "42", "decimal": "2.50", "boolean": "yes",
        "date": "1815-12-10", "datetime": "2024-01-01T10:00:00Z", "email": "ada@example.com",
        "phone": "+44 20 7946 0000",
    }[field_type]  # fmt: skip
    plan = plan_of(field_type, required=True, max_length=None, regex="")
    fast, clean = row_cleaner(plan), block_cleaner(plan, ("id", "v"), True, True)
    assert fast is not None and clean is not None
    assert fast({"id": "a", "v": usual})[1] == exact({"id": "a", "v": usual}, plan)[1]
    assert clean([["a", usual]], 0, 1, 2, []) == 1


# --- for reading -----------------------------------------------------------------------------

SAFE_NAME = st.text(string.printable, min_size=1, max_size=12)


@given(field=SAFE_NAME, column=SAFE_NAME)
@settings(max_examples=50, deadline=None)
def test_names_from_the_entity_and_the_file_never_enter_the_code(field, column) -> None:
    fields = (FieldSpec(field, FieldType.INTEGER, True, True, 5, r"\d+"),)
    plan = plan_for(config_of(fields, mapping={field: column}))
    fast = row_cleaner(plan)
    assert fast is not None and fast({column: " 12 "}) == ("12", {field: 12})
    named_plainly = (FieldSpec("n", FieldType.INTEGER, True, True, 5, r"\d+"),)
    reference = plan_for(config_of(named_plainly, mapping={"n": "c"}))
    code = row_cleaner_source(plan).split("\ndef factory")[1]
    assert code == row_cleaner_source(reference).split("\ndef factory")[1]
    assert "#" not in code
