"""Connector schedules in words and times: cron expressions (parsed by celery's crontab, as
beat runs them), their next run times in a timezone, and the one-line summary pages show."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from celery.schedules import ParseException, crontab

CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
CRON_FIELD_LABELS = ("minute", "hour", "day of month", "month", "day of week")
# Far enough for any expression that can run at all (29 February needs up to 8 years).
SEARCH_DAYS = 366 * 9
TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


@dataclass(frozen=True)
class Cron:
    """A valid 5-field cron expression, split into celery crontab's fields."""

    minute: str
    hour: str
    day_of_month: str
    month_of_year: str
    day_of_week: str

    @property
    def expression(self) -> str:
        return " ".join(getattr(self, name) for name in CRON_FIELDS)

    def crontab(self) -> crontab:
        return crontab(**{name: getattr(self, name) for name in CRON_FIELDS})


def parse_cron(expression: str) -> Cron:
    """The expression's five fields (minute hour day-of-month month day-of-week), or
    ValueError saying which field is wrong and why."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(
            "A cron expression has 5 fields separated by spaces: minute hour day-of-month "
            f"month day-of-week, e.g. 0 6 * * 1-5; this one has {len(fields)}."
        )
    for name, label, value in zip(CRON_FIELDS, CRON_FIELD_LABELS, fields, strict=True):
        try:
            crontab(**{name: value})
        except (ValueError, ParseException) as error:
            raise ValueError(f"The {label} field ({value}) is not valid: {error}") from None
    cron = Cron(*fields)
    if not next_runs(cron, ZoneInfo("UTC"), datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")), 1):
        raise ValueError(f"{expression} never runs: no such date.")
    return cron


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA timezone so named (e.g. Europe/Lisbon), or ValueError."""
    if name not in available_timezones():
        raise ValueError(
            f"{name or '(blank)'} is not a known timezone; use an IANA name such as "
            "Europe/Lisbon or UTC."
        )
    return ZoneInfo(name)


def _days(start: date, cron: crontab) -> Iterator[date]:
    for offset in range(SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if (
            day.month in cron.month_of_year
            and day.day in cron.day_of_month
            and (day.weekday() + 1) % 7 in cron.day_of_week  # celery: 0 is Sunday
        ):
            yield day


def next_runs(cron: Cron, zone: ZoneInfo, now: datetime, count: int = 3) -> list[datetime]:
    """The next `count` times after `now` (aware) the expression is due, in `zone`. Like
    celery's crontab, a time is due when its day matches both day fields. Wall times that
    do not exist in the zone (a DST gap) are skipped."""
    schedule = cron.crontab()
    local_now = now.astimezone(zone)
    found: list[datetime] = []
    for day in _days(local_now.date(), schedule):
        for hour in sorted(schedule.hour):
            for minute in sorted(schedule.minute):
                at = datetime.combine(day, time(hour, minute), tzinfo=zone)
                if at.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) != (
                    at.replace(tzinfo=None)
                ):
                    continue
                if at > local_now:
                    found.append(at)
                    if len(found) == count:
                        return found
    return found


def describe(
    *,
    active: bool,
    kind: str,
    every_minutes: int,
    expression: str,
    timezone: str,
    now: datetime,
) -> str:
    """The schedule in one line: "every 30 minutes", or "cron `0 6 * * 1-5`
    (Europe/Lisbon); next: ..." with the next three run times, or "not scheduled"."""
    if not active:
        return "not scheduled (run manually)"
    if kind != "cron":
        return f"every {every_minutes} minutes"
    try:
        times = next_runs(parse_cron(expression), parse_timezone(timezone), now)
    except ValueError as error:
        return f"cron `{expression}` ({timezone}), not valid: {error}"
    listed = ", ".join(at.strftime(TIME_FORMAT) for at in times)
    return f"cron `{expression}` ({timezone}); next: {listed}"
