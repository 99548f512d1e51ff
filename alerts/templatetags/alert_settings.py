"""{% alert_section %}: the connector page's Alerts section (templates/alerts/_section.html)."""

from typing import Any

from django import template

from alerts import services
from alerts.forms import AlertSettingsForm
from alerts.models import WebhookAttempt
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
        "can_edit": can_edit,
        "form": AlertSettingsForm(initial=AlertSettingsForm.initial_for(config))
        if can_edit
        else None,
        "attempts": list(attempts[:ATTEMPTS_SHOWN]),
        "csrf_token": context.get("csrf_token"),
    }
