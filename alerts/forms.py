"""The connector page's alert settings form: recipients, webhook URL (checked by the SSRF
rules, alerts.targets), events and N hours; errors say what to fix."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from alerts.models import AlertEvent, AlertSettings
from alerts.targets import WebhookRefused, check

MAX_RECIPIENTS = 20


class AlertSettingsForm(forms.Form):
    email_recipients = forms.CharField(
        label="E-mail recipients",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One address per line (or separated by commas); at most 20.",
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=2048,
        help_text="An https URL that receives each alert as signed JSON (see README). It must "
        "resolve to a public address.",
    )
    events = forms.MultipleChoiceField(
        label="Alert on",
        required=False,
        choices=AlertEvent.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    not_moved_hours = forms.IntegerField(
        label="N (hours) for files not moved",
        min_value=1,
        max_value=24 * 365,
        initial=24,
        help_text="Alert once on each file ingested more than N hours ago and not yet moved.",
    )

    @classmethod
    def initial_for(cls, config: AlertSettings | None) -> dict[str, Any]:
        if config is None:
            return {"events": [e.value for e in AlertEvent], "not_moved_hours": 24}
        return {
            "email_recipients": "\n".join(config.recipients),
            "webhook_url": config.webhook_url,
            "events": [e.value for e in AlertEvent if config.wants(e.value)],
            "not_moved_hours": config.not_moved_hours,
        }

    def clean_email_recipients(self) -> list[str]:
        text = self.cleaned_data["email_recipients"]
        addresses = [part.strip().lower() for part in text.replace(",", "\n").split()]
        addresses = list(dict.fromkeys(a for a in addresses if a))
        wrong = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                wrong.append(address)
        if wrong:
            raise ValidationError(f"Not an e-mail address: {', '.join(wrong)}.")
        if len(addresses) > MAX_RECIPIENTS:
            raise ValidationError(f"At most {MAX_RECIPIENTS} recipients ({len(addresses)} given).")
        return addresses

    def clean_webhook_url(self) -> str:
        url = str(self.cleaned_data["webhook_url"]).strip()
        if not url:
            return ""
        try:
            check(url)
        except WebhookRefused as exc:
            raise ValidationError(str(exc)) from None
        return url

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("events")
            and not (cleaned.get("email_recipients") or cleaned.get("webhook_url"))
            and not self.errors
        ):
            raise ValidationError(
                "Add an e-mail recipient or a webhook URL for the alerts to go to, or clear "
                "the events."
            )
        return cleaned
