"""{% alert_section %}: the connector page's Alerts section (templates/alerts/_section.html)."""

from typing import Any

from django import template

from alerts import services
from alerts.forms import AlertSettingsForm
from alerts.models import WebhookAttempt
from alerts.targets import WebhookRefused, split_url
from connectors.models import Connector

register = template.Library()
ATTEMPTS_SHOWN = 20


@register.inclusion_tag("alerts/_section_body.html", takes_context=True)
def alert_section(context: template.Context, connector: Connector) -> dict[str, Any]:
    config = services.settings_of(connector)
    can_edit = bool(context.get("can_edit"))
    attempts = WebhookAttempt.objects.filter(connector=connector).select_related("alert")
    return {
        "connector": connector,
        "config": config,
        # A webhook URL's path may carry a token: viewers see only where it goes.
        "webhook_shown": _shown_url(config.webhook_url if config else "", full=can_edit),
        "can_edit": can_edit,
        "form": AlertSettingsForm(initial=AlertSettingsForm.initial_for(config))
        if can_edit
        else None,
        "attempts": list(attempts[:ATTEMPTS_SHOWN]),
        "csrf_token": context.get("csrf_token"),
    }


def _shown_url(url: str, *, full: bool) -> str:
    if full or not url:
        return url
    try:
        origin, path = split_url(url)
    except WebhookRefused:
        return "(a URL that is no longer valid)"
    return origin + ("/…" if path != "/" else "/")
