"""Production (DEBUG off) refuses to start without its keys, and says how to make them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def start(**env: str) -> subprocess.CompletedProcess[str]:
    """Load the production settings in a fresh process; explicit values win over any .env."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-secret-key",
        "LOADBAY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
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
