"""Settings for pytest: fixed throwaway keys, then the normal settings."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
# A fixed Fernet key used only by the test suite.
os.environ.setdefault("LOADBAY_ENCRYPTION_KEY", "dGVzdC1vbmx5LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24=")
# An installation whose administrator set Loadbay's AWS principal (tests of it unset say so).
os.environ.setdefault("LOADBAY_AWS_PRINCIPAL_ARN", "arn:aws:iam::123456789012:role/loadbay-tests")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# The test client and live servers speak plain http; HSTS, CSP and sign-in throttling stay on.
SECURE_SSL_REDIRECT = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405
