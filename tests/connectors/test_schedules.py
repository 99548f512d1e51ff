"""Cron expressions: checked as celery's crontab reads them, with a message naming the wrong
field; timezones by IANA name; the next run times for a fixed now; the one-line summary."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.schedules import describe, next_runs, parse_cron, parse_timezone

LISBON = ZoneInfo("Europe/Lisbon")
# A Friday, 12:00 UTC.
FRIDAY_NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_a_five_field_expression_is_split_into_crontab_fields() -> None:
    cron = parse_cron("0 6 * * 1-5")
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week) == (
        "0",
        "6",
        "*",
        "*",
        "1-5",
    )
    assert cron.expression == "0 6 * * 1-5"


@pytest.mark.parametrize("expression", ["0 6 * *", "0 6 * * 1-5 2026", ""])
def test_an_expression_without_five_fields_is_refused_saying_so(expression: str) -> None:
    with pytest.raises(ValueError, match="has 5 fields"):
        parse_cron(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", r"minute field \(61\)"),
        ("0 24 * * *", r"hour field \(24\)"),
        ("0 6 32 * *", r"day of month field \(32\)"),
        ("0 6 * 13 *", r"month field \(13\)"),
        ("0 6 * * 8", r"day of week field \(8\)"),
        ("x 6 * * *", r"minute field \(x\)"),
        ("*/0 * * * *", r"minute field \(\*/0\)"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cron(expression)


def test_a_date_that_never_occurs_is_refused() -> None:
    with pytest.raises(ValueError, match="never occurs"):
        parse_cron("0 6 31 2 *")


def test_a_timezone_is_taken_by_its_iana_name_and_an_unknown_one_is_refused() -> None:
    assert parse_timezone("Europe/Lisbon") == LISBON
    with pytest.raises(ValueError, match="Mars/Olympus is not a known timezone"):
        parse_timezone("Mars/Olympus")


def test_the_next_three_runs_are_the_next_weekday_mornings_in_the_timezone() -> None:
    runs = next_runs(parse_cron("0 6 * * 1-5"), LISBON, FRIDAY_NOON)
    assert runs == [
        datetime(2026, 11, 30, 6, 0, tzinfo=LISBON),
        datetime(2026, 12, 1, 6, 0, tzinfo=LISBON),
        datetime(2026, 12, 2, 6, 0, tzinfo=LISBON),
    ]


def test_the_next_runs_are_after_now_in_the_timezone_not_in_utc() -> None:
    new_york = ZoneInfo("America/New_York")
    # 12:00 UTC is 07:00 in New York: today's 09:30 is still to come.
    runs = next_runs(parse_cron("30 9 * * *"), new_york, FRIDAY_NOON, count=2)
    assert runs == [
        datetime(2026, 11, 27, 9, 30, tzinfo=new_york),
        datetime(2026, 11, 28, 9, 30, tzinfo=new_york),
    ]


def test_both_day_fields_must_match_as_in_celery() -> None:
    # The 13th that is a Friday: 13 August 2027 is the next after 27 November 2026.
    runs = next_runs(parse_cron("0 0 13 * 5"), ZoneInfo("UTC"), FRIDAY_NOON, count=1)
    assert runs == [datetime(2027, 8, 13, 0, 0, tzinfo=ZoneInfo("UTC"))]


def test_a_wall_time_lost_to_daylight_saving_is_skipped() -> None:
    # Lisbon's clocks go from 01:00 to 02:00 on 29 March 2026.
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    runs = next_runs(parse_cron("30 1 * * *"), LISBON, saturday, count=2)
    assert [run.date().isoformat() for run in runs] == ["2026-03-30", "2026-03-31"]


def test_the_summary_says_every_n_minutes_the_cron_with_its_next_runs_or_not_scheduled() -> None:
    common = {"every_minutes": 30, "expression": "0 6 * * 1-5", "timezone": "Europe/Lisbon"}
    assert describe(active=True, kind="interval", now=FRIDAY_NOON, **common) == ("every 30 minutes")
    assert describe(active=True, kind="cron", now=FRIDAY_NOON, **common) == (
        "cron `0 6 * * 1-5` (Europe/Lisbon); next: 2026-11-30 06:00 WET, "
        "2026-12-01 06:00 WET, 2026-12-02 06:00 WET"
    )
    assert describe(active=False, kind="cron", now=FRIDAY_NOON, **common) == (
        "not scheduled (run manually)"
    )
