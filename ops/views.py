"""The operators' endpoints: /healthz (no sign-in) and /metrics (a bearer token)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST

from ops import health, metrics


@never_cache
async def healthz(request: HttpRequest) -> HttpResponse:
    """django-health-check's checks, reported by ops.health: 200 or 503, details for signed-in
    staff only (the library's own view answers 500 with every detail to anyone)."""
    results = await health.run_checks(health.components())
    user = await request.auser()
    status, body = health.report(results, details=user.is_active and user.is_staff)
    return JsonResponse(body, status=status)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = metrics.refusal(request.headers.get("Authorization", ""))
    if refusal is not None:
        response = HttpResponse(refusal.message, status=refusal.status, content_type="text/plain")
        if refusal.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="loadbay-metrics"'
        return response
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
