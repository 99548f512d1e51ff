"""Fixtures of the entities' tests: the Profile entity type, and csv_reading for the tests that
write files through the ingest writer (tests.support.writing)."""

import pytest

from entities.models import EntityType
from tests.support.writing import csv_reading  # noqa: F401


@pytest.fixture
def profile(db) -> EntityType:
    return EntityType.objects.get(name="Profile")
