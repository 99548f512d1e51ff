"""Connector pages: list, detail, enable/disable, test connection, delete. A connector's
source settings are shown and tested through its Source (connectors.sources)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from connectors import services
from connectors.checks import Check, verdict
from connectors.history import connector_history
from connectors.mapping import mapping_rows
from connectors.models import AccessLevel, Connector
from connectors.schedules import describe
from connectors.selectors import (
    access_level,
    get_connector_for,
    run_refusal,
    shares_of,
    visible_connectors,
)
from connectors.sources import source_for
from ingest.selectors import files_waiting_to_move, runs_of


@login_required
def connector_list(request: HttpRequest) -> HttpResponse:
    connectors = visible_connectors(request.user).select_related("entity_type", "owner")
    rows = [(connector, source_for(connector).label) for connector in connectors]
    return render(request, "connectors/list.html", {"rows": rows})


def _detail(
    request: HttpRequest, connector: Connector, checks: list[Check] | None = None
) -> HttpResponse:
    level = access_level(request.user, connector)
    source = source_for(connector)
    context = {
        "connector": connector,
        "source_label": source.label,
        "settings_rows": source.saved_summary(connector),
        "mapping": mapping_rows(connector.entity_type, connector.field_mapping),
        "can_edit": level >= AccessLevel.EDIT,
        "can_delete": level >= AccessLevel.FULL,
        "connection_checks": checks,
        "connection_verdict": verdict(checks) if checks is not None else None,
        "shares": shares_of(connector),
        "owner_access": AccessLevel.FULL.label,
        "run_refusal": run_refusal(connector),
        "recent_runs": runs_of(connector)[:5],
        "waiting_files": files_waiting_to_move(connector)[:20],
        "history": connector_history(connector),
        "schedule": describe(
            active=connector.schedule_active,
            kind=connector.schedule_kind,
            every_minutes=connector.poll_interval_minutes,
            expression=connector.cron_expression,
            timezone=connector.schedule_timezone,
            now=timezone.now(),
        ),
    }
    return render(request, "connectors/detail.html", context)


@login_required
def connector_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_connector_for(request.user, pk))


@login_required
@require_POST
def connector_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    connector = get_connector_for(request.user, pk, needs=AccessLevel.EDIT)
    enable = request.POST.get("enabled") == "1"
    services.set_enabled(connector, enabled=enable)
    messages.success(
        request, f"Connector {connector.name!r} {'enabled' if enable else 'disabled'}."
    )
    return redirect(connector)


@login_required
@require_POST
@sensitive_variables()  # the checks decrypt the secret and hand it to boto3
def connector_test(request: HttpRequest, pk: int) -> HttpResponse:
    connector = get_connector_for(request.user, pk, needs=AccessLevel.EDIT)
    checks = source_for(connector).test_connector(connector)
    return _detail(request, connector, checks)


@login_required
def connector_delete(request: HttpRequest, pk: int) -> HttpResponse:
    connector = get_connector_for(request.user, pk, needs=AccessLevel.FULL)
    if request.method == "POST":
        name = connector.name
        services.delete_connector(connector)
        messages.success(request, f"Connector {name!r} deleted.")
        return redirect("connectors:list")
    return render(request, "connectors/confirm_delete.html", {"connector": connector})
