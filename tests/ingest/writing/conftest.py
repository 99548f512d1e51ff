"""Fixtures of the writer's tests: the Profile entity type, and csv_reading, which runs a test
both ways the writer is given CSV rows (tests.support.writing)."""

import pytest

from entities.models import EntityType
from tests.support.writing import csv_reading  # noqa: F401


@pytest.fixture
def profile() -> EntityType:
    return EntityType.objects.get(name="Profile")
