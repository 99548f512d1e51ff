"""/healthz: django-health-check's database and broker checks against the real services, 200
or 503 naming what is down, and no details for anonymous callers."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ops import health
from tests.support.ops import closed_port, database_unreachable
from tests.support.pages import signed_in

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_without_signing_in_when_the_database_and_the_broker_answer() -> None:
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "up",
        "components": {"database": "up", "broker": "up"},
    }
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_503_naming_the_database_when_it_does_not_answer() -> None:
    port = closed_port()
    with database_unreachable(port):
        response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "components": {"database": "down", "broker": "up"},
        "down": ["database"],
    }


def test_healthz_answers_503_naming_the_broker_when_it_does_not_answer(settings) -> None:
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{port}/0"

    response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "components": {"database": "up", "broker": "down"},
        "down": ["broker"],
    }


def test_anonymous_callers_learn_up_or_down_and_nothing_else(settings) -> None:
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{port}/0"

    with database_unreachable(port):
        text = Client().get("/healthz").content.decode()

    assert json.loads(text)["down"] == ["database", "broker"]
    for detail in (str(port), "127.0.0.1", "hunter2", "Redis", "Database", "connect", "refused"):
        assert detail not in text


def test_a_user_who_is_not_staff_gets_no_details_either(settings, alice: User) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"

    body = signed_in(alice).get("/healthz").json()

    assert body["down"] == ["broker"] and "details" not in body


def test_staff_see_what_each_check_reached_and_why_it_failed(settings, alice: User) -> None:
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/3"
    alice.is_staff = True
    alice.save()

    details = signed_in(alice).get("/healthz").json()["details"]

    assert details["broker"]["check"] == f"Redis(db=3, host='127.0.0.1', port={port})"
    assert details["broker"]["error"] == "Unavailable: Unable to connect to Redis: Connection Error"
    assert details["database"]["error"] is None


def test_the_filesystem_broker_is_up_while_its_folders_are_writable(settings, tmp_path) -> None:
    folders = {"data_folder_in": tmp_path, "data_folder_out": tmp_path, "control_folder": tmp_path}
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = folders

    assert Client().get("/healthz").status_code == 200

    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {**folders, "control_folder": tmp_path / "gone"}
    response = Client().get("/healthz")
    assert response.status_code == 503 and response.json()["down"] == ["broker"]


def test_the_broker_checked_is_the_one_celery_uses(settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6390/7"

    check = health.components()["broker"]

    assert repr(check) == "Redis(db=7, host='127.0.0.1', port=6390)"


def test_healthz_is_not_redirected_to_https_for_a_probe_over_http(settings) -> None:
    settings.SECURE_SSL_REDIRECT = True

    assert Client().get("/healthz").status_code == 200
    assert Client().get("/connectors/").status_code == 301
