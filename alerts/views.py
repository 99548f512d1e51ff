"""Alert pages of a connector (editors: EDIT access): save its alert settings, regenerate its
webhook secret. A new secret is shown once, on the page answering the POST that made it, and
never rendered again."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from alerts import services
from alerts.forms import AlertSettingsForm
from connectors.models import AccessLevel, Connector
from connectors.selectors import get_connector_for


@login_required
@require_POST
@never_cache
@sensitive_variables("secret")
def save_settings(request: HttpRequest, pk: int) -> HttpResponse:
    connector = get_connector_for(request.user, pk, needs=AccessLevel.EDIT)
    form = AlertSettingsForm(request.POST)
    if not form.is_valid():
        return render(
            request, "alerts/edit.html", {"connector": connector, "form": form}, status=400
        )
    data = form.cleaned_data
    _, secret = services.save_settings(
        connector,
        recipients=data["email_recipients"],
        webhook_url=data["webhook_url"],
        events=set(data["events"]),
        not_moved_hours=data["not_moved_hours"],
    )
    messages.success(request, "Alert settings saved.")
    if secret is not None:
        return _show_secret_once(request, connector, secret)
    return redirect(connector)


@login_required
@require_POST
@never_cache
@sensitive_post_parameters()
@sensitive_variables("secret")
def regenerate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    connector = get_connector_for(request.user, pk, needs=AccessLevel.EDIT)
    config = services.settings_of(connector)
    if config is None or not config.webhook_url:
        messages.error(request, "Set a webhook URL first; it gets a secret when saved.")
        return redirect(connector)
    return _show_secret_once(request, connector, services.regenerate_secret(config))


@sensitive_variables("secret")
def _show_secret_once(request: HttpRequest, connector: Connector, secret: str) -> HttpResponse:
    return render(request, "alerts/secret.html", {"connector": connector, "secret": secret})
