"""The integration tier: a real Celery worker on Redis, PostgreSQL, and moto over HTTP.

The `worker` fixture lives in tests/conftest.py so other tiers (browser) can use it too.
"""
