"""Sign-in throttling hooks for django-axes: the client address a failure counts against, and
the page a locked-out sign-in gets."""

from math import ceil
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ipware.ip import get_client_ip


def client_address(request: HttpRequest) -> str:
    """The address of the nearest hop that is not one of our LOADBAY_TRUSTED_PROXY_COUNT proxies.

    Each trusted proxy appends the address it was reached from to X-Forwarded-For, so with N of
    them the client is the N-th entry from the right; entries further left are whatever the
    client sent and are ignored. Without trusted proxies, or when the header is too short (the
    request did not come through all of them), it is the connection's address.
    """
    proxies = settings.LOADBAY_TRUSTED_PROXY_COUNT
    if proxies:
        # ipware counts the proxies named in the header; the last one is REMOTE_ADDR, not there.
        address, _routable = get_client_ip(
            request,
            proxy_count=proxies - 1,
            request_header_order=["HTTP_X_FORWARDED_FOR"],
            strict=False,
        )
        if address:
            return address
    return str(request.META.get("REMOTE_ADDR", ""))


def lockout_page(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """429 with our page: which account is refused from where, and for how long."""
    minutes = ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    context = {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT}
    return render(request, "registration/locked_out.html", context, status=429)
