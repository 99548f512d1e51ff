"""A connector's mapping as pages show it: field labels in the entity's field order, fields
left unmapped said so, and a mapped name the entity no longer has shown as it is."""

import pytest

from connectors.mapping import NOT_MAPPED, mapping_rows
from entities.models import EntityField, EntityType

pytestmark = pytest.mark.django_db


def test_labels_in_the_entitys_order_not_names_alphabetically() -> None:
    profile = EntityType.objects.get(name="Profile")
    EntityField.objects.filter(entity_type=profile, name="email").update(label="E-mail address")
    mapping = {"loyalty_points": "points", "birth_date": "dob", "email": "mail", "profile_id": "id"}
    assert mapping_rows(profile, mapping) == [
        ("Profile id", "id"),
        ("First name", NOT_MAPPED),
        ("Last name", NOT_MAPPED),
        ("E-mail address", "mail"),
        ("Phone", NOT_MAPPED),
        ("Birth date", "dob"),
        ("Loyalty points", "points"),
    ]


def test_a_name_the_entity_no_longer_has_comes_last_as_it_is() -> None:
    profile = EntityType.objects.get(name="Profile")
    rows = mapping_rows(profile, {"profile_id": "id", "shoe_size": "size"})
    assert rows[-1] == ("shoe_size", "size")


def test_without_an_entity_the_mapping_is_shown_as_it_is() -> None:
    assert mapping_rows(None, {"a": "b"}) == [("a", "b")]
