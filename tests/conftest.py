"""Shared fixtures: named users (alice owns and may write into every entity, bob shares through
a group, charlie has no access), a moto S3/STS server over HTTP, and buckets in it."""

import importlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.contrib.auth.models import Group, User

# Browser fixtures (one Playwright per session), shared by every browser test module.
from tests.support.browser import browser_page, chromium  # noqa: F401
from tests.support.celery_worker import celery_worker, flush_broker, integration_env
from tests.support.moto_server import moto_server as start_moto_server
from tests.support.users import PASSWORD

# The platform's own AWS credentials (used for STS AssumeRole) point at moto, never at AWS.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIAPLATFORMTESTKEY01")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "platform-test-secret-0000000000000000")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(autouse=True)
def fresh_s3_clients() -> Iterator[None]:
    """Runs share S3 clients within a process; each test starts without any (its moto
    server, fault proxy or credentials are its own)."""
    from connectors.aws import forget_s3_clients

    forget_s3_clients()
    yield
    forget_s3_clients()


@pytest.fixture(autouse=True)
def builtin_entities(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush the database; bring back the built-in entity types that a
    data migration created (the same function, so they are exactly the same)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    create_builtin = importlib.import_module(
        "entities.migrations.0002_builtin_entities"
    ).create_builtin
    create_builtin(apps, None)


@pytest.fixture
def alice(db: Any) -> User:
    """alice owns the connectors of the tests: she may write into, and delete from, every
    entity type there is when she is made (an administrator gave her that access)."""
    from entities.models import EntityAccess, EntityRight, EntityType

    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    EntityAccess.objects.bulk_create(
        EntityAccess(entity_type=entity_type, user=user, level=EntityRight.DELETE)
        for entity_type in EntityType.objects.all()
    )
    return user


@pytest.fixture
def bob(db: Any) -> User:
    return User.objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def charlie(db: Any) -> User:
    return User.objects.create_user("charlie", "charlie@example.com", PASSWORD)


@pytest.fixture
def team(bob: User) -> Group:
    group = Group.objects.create(name="data-team")
    bob.groups.add(group)
    return group


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with start_moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def worker(django_db_setup: Any, moto_url: str) -> Iterator[Any]:
    """A real Celery worker process on the test database and broker (integration tier)."""
    integration_env(moto_url)  # fails with a clear message without PostgreSQL and Redis
    flush_broker()
    with celery_worker(moto_url, name="w1") as process:
        yield process


@pytest.fixture
def s3_endpoint(moto_url: str, settings: Any) -> str:
    """moto's URL, allowed as an S3 endpoint and used for STS."""
    settings.S3_ALLOWED_ENDPOINTS = [moto_url]
    settings.LOADBAY_STS_ENDPOINT_URL = moto_url
    return moto_url


@pytest.fixture
def s3_client(s3_endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"loadbay-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name
