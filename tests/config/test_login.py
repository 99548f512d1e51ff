"""Sign-in throttles attackers, not users: one policy for /accounts/login/ and /admin/login/,
counted per username and client address together, in the database."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from tests.support.users import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
ALICE_AT_HOME = "198.51.100.7"
ALICE_AT_WORK = "203.0.113.9"
STRANGER = "192.0.2.66"
PROXY = "10.0.0.2"


def sign_in(
    username: str,
    password: str,
    *,
    client: Client | None = None,
    page: str = "/accounts/login/",
    **meta: str,
) -> HttpResponse:
    client = client or Client()
    return client.post(page, {"username": username, "password": password}, **meta)


def signed_in(response: HttpResponse) -> bool:
    return "_auth_user_id" in response.wsgi_request.session


def refused(response: HttpResponse) -> bool:
    page = response.content.decode()
    return response.status_code == 429 and "Too many failed sign-in attempts" in page


def fail(times: int, username: str, **meta: str) -> None:
    for _ in range(times):
        response = sign_in(username, "wrong", **meta)
        assert response.status_code in (200, 429) and not signed_in(response)


@pytest.fixture
def root(db: Any) -> User:
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Moves the time django-axes reads (each request's attempt time) forward."""

    def travel(by: timedelta) -> None:
        monkeypatch.setattr("axes.handlers.proxy.now", lambda: timezone.now() + by)

    return travel


def test_it_signs_in_with_the_right_password(alice) -> None:
    response = sign_in("alice", PASSWORD)
    assert response.status_code == 302 and signed_in(response)


def test_the_admin_refuses_the_right_password_after_thirty_wrong_ones(root) -> None:
    for _ in range(30):
        response = sign_in("root", "wrong", page="/admin/login/", REMOTE_ADDR=STRANGER)
        assert not signed_in(response)
    response = sign_in("root", PASSWORD, page="/admin/login/", REMOTE_ADDR=STRANGER)
    assert refused(response) and not signed_in(response)


def test_both_sign_in_pages_share_one_count(root, settings) -> None:
    fail(3, "root", page="/admin/login/", REMOTE_ADDR=STRANGER)
    fail(settings.LOGIN_FAILURE_LIMIT - 3, "root", REMOTE_ADDR=STRANGER)
    assert refused(sign_in("root", PASSWORD, page="/admin/login/", REMOTE_ADDR=STRANGER))
    assert refused(sign_in("root", PASSWORD, REMOTE_ADDR=STRANGER))


def test_five_failures_lock_alice_out_from_that_address_only(alice, settings) -> None:
    fail(settings.LOGIN_FAILURE_LIMIT, "alice", REMOTE_ADDR=STRANGER)
    from_the_stranger = sign_in("alice", PASSWORD, REMOTE_ADDR=STRANGER)
    assert refused(from_the_stranger) and not signed_in(from_the_stranger)
    at_work = sign_in("alice", PASSWORD, REMOTE_ADDR=ALICE_AT_WORK)
    assert at_work.status_code == 302 and signed_in(at_work)


def test_the_lockout_page_says_why_and_for_how_long(alice, settings) -> None:
    fail(settings.LOGIN_FAILURE_LIMIT, "alice")
    page = sign_in("alice", PASSWORD).content.decode()
    assert "Try again in 15 minutes" in page
    assert "Signing in from elsewhere is not affected" in page
    assert '<a class="brand" href="/">Loadbay</a>' in page  # our page, not a bare text


def test_twenty_failures_on_other_names_do_not_lock_bob_out_of_that_address(bob) -> None:
    for number in range(20):
        sign_in(f"guess-{number}", "wrong", REMOTE_ADDR=ALICE_AT_WORK)
    response = sign_in("bob", PASSWORD, REMOTE_ADDR=ALICE_AT_WORK)
    assert response.status_code == 302 and signed_in(response)


def test_signing_in_forgets_earlier_failures(alice, settings) -> None:
    almost = settings.LOGIN_FAILURE_LIMIT - 1
    fail(almost, "alice")
    assert signed_in(sign_in("alice", PASSWORD))
    fail(almost, "alice")
    assert signed_in(sign_in("alice", PASSWORD))


def test_the_lock_lifts_after_the_cool_off(alice, settings, clock) -> None:
    fail(settings.LOGIN_FAILURE_LIMIT, "alice")
    clock(timedelta(minutes=14))
    assert refused(sign_in("alice", PASSWORD))
    clock(timedelta(minutes=16))  # the refused attempt at 14 minutes did not restart the wait
    assert signed_in(sign_in("alice", PASSWORD))


def test_behind_one_trusted_proxy_each_forwarded_client_has_its_own_count(alice, settings) -> None:
    settings.LOADBAY_TRUSTED_PROXY_COUNT = 1
    for forged in range(settings.LOGIN_FAILURE_LIMIT):
        # The proxy appends the address it saw; what the client wrote before it is ignored.
        fail(1, "alice", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"10.9.9.{forged}, {STRANGER}")
    assert refused(
        sign_in("alice", PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"7.7.7.7, {STRANGER}")
    )
    at_work = sign_in("alice", PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ALICE_AT_WORK)
    assert at_work.status_code == 302 and signed_in(at_work)


def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(alice, settings) -> None:
    settings.LOADBAY_TRUSTED_PROXY_COUNT = 0
    for forged in range(settings.LOGIN_FAILURE_LIMIT):
        fail(1, "alice", REMOTE_ADDR=STRANGER, HTTP_X_FORWARDED_FOR=f"198.51.100.{forged + 10}")
    assert refused(sign_in("alice", PASSWORD, REMOTE_ADDR=STRANGER, HTTP_X_FORWARDED_FOR="1.2.3.4"))
    # Naming alice's address does not spend her attempts either.
    fail(
        settings.LOGIN_FAILURE_LIMIT,
        "alice",
        REMOTE_ADDR=STRANGER,
        HTTP_X_FORWARDED_FOR=ALICE_AT_HOME,
    )
    assert signed_in(sign_in("alice", PASSWORD, REMOTE_ADDR=ALICE_AT_HOME))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_fresh_process_without_redis_sees_the_failures(alice, settings) -> None:
    """Web processes (gunicorn workers, or `make run` without Redis) share one count."""
    if connection.vendor != "postgresql":
        pytest.skip("another process can only open the test database on PostgreSQL")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    fail(settings.LOGIN_FAILURE_LIMIT, "alice", REMOTE_ADDR=STRANGER)
    outcome = sign_in_in_a_fresh_process("alice", PASSWORD, STRANGER)
    assert outcome == {"status": 429, "signed_in": False}


FRESH_PROCESS = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
response = client.post(
    "/accounts/login/", {"username": sys.argv[1], "password": sys.argv[2]}, REMOTE_ADDR=sys.argv[3]
)
print(json.dumps({"status": response.status_code, "signed_in": "_auth_user_id" in client.session}))
"""


def sign_in_in_a_fresh_process(username: str, password: str, address: str) -> dict[str, Any]:
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, username, password, address],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
