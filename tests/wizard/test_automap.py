"""Automatic mapping: each field finds its column by exact name, then by name without case or
separators, then by label; a column feeds one field at most."""

import pytest

from wizard.automap import FieldName, automap, loose, unmapped_columns

PROFILE = [
    FieldName("profile_id", "Profile ID"),
    FieldName("first_name", "First name"),
    FieldName("email", "E-mail address"),
    FieldName("loyalty_points", "Points"),
]


@pytest.mark.parametrize(
    "column", ["profile_id", "Profile ID", "profile-id", "profileId", "PROFILE_ID", " profile id "]
)
def test_a_name_matches_whatever_its_case_and_separators(column: str) -> None:
    assert automap(PROFILE, [column]) == {"profile_id": column}


def test_loose_names_drop_case_and_separators() -> None:
    assert loose("Profile ID") == loose("profile-id") == loose("profileId") == "profileid"


def test_an_exact_name_wins_over_a_looser_one_wherever_it_is() -> None:
    columns = ["ProfileId", "profile_id"]
    assert automap(PROFILE, columns)["profile_id"] == "profile_id"


def test_the_label_is_tried_after_the_name() -> None:
    mapping = automap(PROFILE, ["E-mail address", "points", "email"])
    assert mapping["email"] == "email"  # its name, before anyone's label
    assert mapping["loyalty_points"] == "points"  # its label, loosely


def test_a_column_feeds_one_field_only() -> None:
    fields = [FieldName("name", "Full name"), FieldName("full_name", "Name")]
    assert automap(fields, ["Name"]) == {"name": "Name"}


def test_an_exact_match_is_settled_before_another_field_takes_the_column_loosely() -> None:
    fields = [FieldName("first", "Email"), FieldName("email", "Email")]
    assert automap(fields, ["email"]) == {"email": "email"}


def test_fields_without_a_column_are_left_out() -> None:
    assert automap(PROFILE, ["shoe_size"]) == {}


def test_a_repeated_column_name_counts_once() -> None:
    assert unmapped_columns(["a", "b", "a"], {"x": "b"}) == ["a"]


def test_unmapped_columns_keep_the_files_order() -> None:
    columns = ["Shoe size", "profile id", "Favourite colour"]
    mapping = automap(PROFILE, columns)
    assert mapping == {"profile_id": "profile id"}
    assert unmapped_columns(columns, mapping) == ["Shoe size", "Favourite colour"]


def test_no_columns_map_nothing() -> None:
    assert automap(PROFILE, []) == {}
