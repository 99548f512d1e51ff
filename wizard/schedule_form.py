"""The Schedule part of Entity Specific Settings: run on a schedule or not, every N minutes
or a cron expression in a timezone (checked as beat will read it), and the cron's next run
times for the page to show."""

from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from connectors.models import ScheduleKind
from connectors.schedules import TIME_FORMAT, next_runs, parse_cron, parse_timezone

DEFAULT_POLL_MINUTES = 30


class ScheduleForm(forms.Form):
    schedule_active = forms.BooleanField(
        label="Run on a schedule",
        required=False,
        initial=True,
        help_text="On by default: every 30 minutes (or as set below) Loadbay looks for new "
        "files in the Source Files Directory and ingests them. Untick it to run the connector "
        "only with Run now.",
    )
    schedule_kind = forms.ChoiceField(
        label="Schedule",
        choices=ScheduleKind.choices,
        initial=ScheduleKind.INTERVAL,
        required=False,
    )
    poll_interval_minutes = forms.IntegerField(
        label="Poll every (minutes)",
        min_value=1,
        max_value=10080,
        initial=DEFAULT_POLL_MINUTES,
        required=False,
    )
    cron_expression = forms.CharField(
        label="Cron expression",
        max_length=100,
        required=False,
        help_text="Five fields: minute hour day-of-month month day-of-week (0 is Sunday), "
        "e.g. 0 6 * * 1-5 for 06:00 on weekdays. A run is due when its day matches both day "
        "fields.",
    )
    schedule_timezone = forms.CharField(
        label="Timezone",
        max_length=64,
        required=False,
        help_text="The cron expression's times are in this timezone: an IANA name such as "
        "Europe/Lisbon or UTC.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["schedule_timezone"].initial = settings.TIME_ZONE

    def check_schedule(self, cleaned: dict[str, Any]) -> None:
        """Cron: the expression and timezone must be valid (the interval shown is kept);
        every N minutes: the interval is required (the cron fields are kept as given)."""
        kind = cleaned.get("schedule_kind") or ScheduleKind.INTERVAL
        cleaned["schedule_kind"] = kind
        cleaned["cron_expression"] = " ".join((cleaned.get("cron_expression") or "").split())
        cleaned["schedule_timezone"] = (
            cleaned.get("schedule_timezone") or ""
        ).strip() or settings.TIME_ZONE
        if kind == ScheduleKind.CRON:
            self._check_cron(cleaned)
            if cleaned.get("poll_interval_minutes") is None and not self.has_error(
                "poll_interval_minutes"
            ):
                kept = self.initial.get("poll_interval_minutes")
                cleaned["poll_interval_minutes"] = kept or DEFAULT_POLL_MINUTES
        elif cleaned.get("poll_interval_minutes") is None and not self.has_error(
            "poll_interval_minutes"
        ):
            self.add_error(
                "poll_interval_minutes", "Enter how often to poll, in minutes (e.g. 30)."
            )

    def _check_cron(self, cleaned: dict[str, Any]) -> None:
        if not cleaned["cron_expression"]:
            self.add_error("cron_expression", "Enter a cron expression, e.g. 0 6 * * 1-5.")
        else:
            try:
                parse_cron(cleaned["cron_expression"])
            except ValueError as error:
                self.add_error("cron_expression", str(error))
        try:
            parse_timezone(cleaned["schedule_timezone"])
        except ValueError as error:
            self.add_error("schedule_timezone", str(error))

    def next_run_times(self) -> list[str]:
        """The cron expression's next three run times from now, in its timezone, when the
        step's cron values (posted, or the saved ones) are valid; empty otherwise."""
        if self.is_bound:
            self.is_valid()  # another field's error still shows a valid schedule's runs
            if any(self.has_error(name) for name in ("cron_expression", "schedule_timezone")):
                return []
            values = self.cleaned_data
        else:
            values = {name: self[name].value() for name in self.fields}
        if values.get("schedule_kind") != ScheduleKind.CRON:
            return []
        try:
            cron = parse_cron(values.get("cron_expression") or "")
            zone = parse_timezone(values.get("schedule_timezone") or "")
        except ValueError:
            return []
        return [at.strftime(TIME_FORMAT) for at in next_runs(cron, zone, timezone.now())]
