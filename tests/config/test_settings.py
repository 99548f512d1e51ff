"""Production (DEBUG off) refuses to start without its keys, and says how to make them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def start(
    code: str = "import django; django.setup()", **env: str
) -> subprocess.CompletedProcess[str]:
    """Load the production settings in a fresh process (then run `code`); explicit values win
    over any .env."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-secret-key",
        "LOADBAY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_starts_with_both_keys() -> None:
    started = start()
    assert started.returncode == 0, started.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOADBAY_ENCRYPTION_KEY": ""}, "LOADBAY_ENCRYPTION_KEY must be set when DEBUG is off"),
        ({"LOADBAY_ENCRYPTION_KEY": "not-a-key"}, "is not a Fernet key"),
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set when DEBUG is off"),
        ({"SECRET_KEY": "change-me"}, "SECRET_KEY must be set when DEBUG is off"),
        ({"LOADBAY_METRICS_TOKEN": "short"}, "LOADBAY_METRICS_TOKEN must be at least 16"),
    ],
)
def test_it_refuses_to_start_without_usable_keys(env: dict[str, str], message: str) -> None:
    started = start(**env)
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and message in started.stderr


def manage_in_production(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run manage.py with the production settings in a fresh process (without the test
    session's DJANGO_ALLOW_ASYNC_UNSAFE, which a deployment must not set)."""
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-secret-key-" + "x" * 40,
        "LOADBAY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "loadbay.example.com",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_deploy_check_finds_nothing_to_warn_about_in_production() -> None:
    checked = manage_in_production("check", "--deploy", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout
    assert "WARNINGS" not in checked.stderr


# Fetches the sign-in page as a browser would, over http and over https behind a proxy.
FETCH = """
import json
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
seen = {}
for name, meta in (("http", {}), ("https", {"HTTP_X_FORWARDED_PROTO": "https"})):
    response = Client().get("/accounts/login/", **meta)
    seen[name] = {
        "status": response.status_code,
        "location": response.get("Location", ""),
        "hsts": response.get("Strict-Transport-Security", ""),
        "csp": response.get("Content-Security-Policy", ""),
    }
print(json.dumps(seen))
"""


def fetch_sign_in_page(tmp_path: Path, **env: str) -> dict[str, dict[str, object]]:
    database = f"sqlite:///{tmp_path / 'unused.sqlite3'}"  # the page reads no table
    done = manage_in_production("shell", "-c", FETCH, DATABASE_URL=database, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_production_redirects_http_to_https_and_sends_hsts_and_a_csp(tmp_path: Path) -> None:
    seen = fetch_sign_in_page(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert seen["http"]["status"] == 301
    assert seen["http"]["location"] == "https://testserver/accounts/login/"
    assert seen["https"]["status"] == 200
    assert seen["https"]["hsts"] == "max-age=31536000; includeSubDomains"
    policy = str(seen["https"]["csp"])
    for directive in (
        "default-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_without_the_proxy_header_setting_a_forwarded_proto_is_not_trusted(
    tmp_path: Path,
) -> None:
    seen = fetch_sign_in_page(tmp_path, SECURE_PROXY_SSL_HEADER="")
    assert seen["https"]["status"] == 301


def test_development_serves_plain_http(tmp_path: Path) -> None:
    seen = fetch_sign_in_page(tmp_path, DEBUG="true")
    assert seen["http"]["status"] == 200
    assert seen["http"]["hsts"] == ""
    assert "default-src 'self'" in str(seen["http"]["csp"])


def test_allowed_endpoints_are_kept_in_their_normalised_form() -> None:
    started = start(
        code="import django; django.setup(); from django.conf import settings; "
        "print(settings.S3_ALLOWED_ENDPOINTS)",
        S3_ALLOWED_ENDPOINTS="HTTPS://MinIO.Example.COM, http://[0:0::1]:9000/",
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "['https://minio.example.com:443', 'http://[::1]:9000']"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"S3_ALLOWED_ENDPOINTS": "http://127.0.0.1:\t4570"}, "control character or whitespace"),
        (
            {"S3_ALLOWED_ENDPOINTS": "http://minio:9000/moto-api"},
            "A path (/moto-api) is not allowed",
        ),
        ({"S3_ALLOWED_ENDPOINTS": "http://[127.0.0.1]:4570"}, "Only an IPv6 address"),
        ({"S3_ALLOWED_ENDPOINTS": "http://admin:pw@minio:9000"}, "user name or password"),
        ({"S3_ALLOWED_ENDPOINTS": "minio:9000"}, "http:// or https://"),
        ({"LOADBAY_DEMO": "true", "LOADBAY_DEMO_S3_URL": "http://[::1"}, "not closed"),
    ],
)
def test_allowed_endpoints_are_parsed_as_strictly_as_the_field(
    env: dict[str, str], message: str
) -> None:
    started = start(**env)
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and "S3_ALLOWED_ENDPOINTS" in started.stderr
    assert message in started.stderr


@pytest.mark.parametrize(
    ("env", "principal"),
    [
        ({"LOADBAY_AWS_PRINCIPAL_ARN": ""}, ""),
        # The placeholder .env.example used to carry names no one: it counts as unset.
        ({"LOADBAY_AWS_PRINCIPAL_ARN": "arn:aws:iam::000000000000:root"}, ""),
        (
            {"LOADBAY_AWS_PRINCIPAL_ARN": " arn:aws:iam::210987654321:role/loadbay "},
            "arn:aws:iam::210987654321:role/loadbay",
        ),
        (
            {"LOADBAY_AWS_PRINCIPAL_ARN": "", "LOADBAY_DEMO": "true"},
            "arn:aws:iam::123456789012:user/loadbay-demo",
        ),
    ],
)
def test_loadbays_aws_principal_is_what_the_administrator_set_or_unset(
    env: dict[str, str], principal: str
) -> None:
    started = start(
        code="import django; django.setup(); from django.conf import settings; "
        "print(repr(settings.LOADBAY_AWS_PRINCIPAL_ARN))",
        **env,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == repr(principal)
