"""Pages as a signed-in user gets them."""

from typing import Any

from django.test import Client

from ingest.models import Run


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def report_text(user: Any, run: Run) -> tuple[str, str]:
    """(Content-Type, body) of the run's CSV export."""
    response = signed_in(user).get(run.get_absolute_url() + "report.csv")
    return response["Content-Type"], b"".join(response.streaming_content).decode("utf-8")
