"""Production (DEBUG off) refuses to start without its keys, and says how to make them."""

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
    ],
)
def test_it_refuses_to_start_without_usable_keys(env: dict[str, str], message: str) -> None:
    started = start(**env)
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and message in started.stderr


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
