"""The Field Mapping step through the test client, against moto over HTTP: the sample it reads
with step 4's settings (newest file, a file picked from the listing, or an upload when the
directory is empty), the mapping made for the user, Check sample, Review's summary, editing,
and the rules that stay (required fields, one column per field, CSRF)."""

from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from connectors.models import Connector
from entities.models import Record
from ingest.models import SourceFile
from tests.support.factories import keys, make_connector, put
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    field_mapping_values,
    post_step,
    press_sample_button,
    s3_access_key_values,
    source_values,
    through_to_review,
)

NEW = "/connectors/new/"
SAMPLE = (
    "Profile ID,First Name,email,Loyalty-Points,Shoe size\n"
    "P-1,Ada,ada@example.com,10,38\n"
    "P-2,Margaret,not-an-email,lots,39\n"
)


@pytest.fixture
def client(alice: Any) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def to_field_mapping(
    client: Client, bucket: str, endpoint: str, url: str = NEW, **step_2: Any
) -> Any:
    client.get(url)
    post_step(client, url, "entity", entity_values())
    post_step(client, url, "entity_settings", entity_settings_values(**step_2))
    post_step(client, url, "source", source_values())
    return post_step(
        client, url, "source_settings", s3_access_key_values(bucket, endpoint=endpoint)
    )


def mapping_of(page: Any) -> dict[str, str]:
    form = page.context["form"]
    return {bound.name[len("map__") :]: bound.value() for bound in form.mapping_fields()}


def test_the_newest_file_is_shown_and_mapped_for_the_user(
    client, bucket, s3_endpoint, s3_client
) -> None:
    # Put one after the other, the second is the newer (or, within the same second, the
    # later key: the tie-break).
    put(s3_client, bucket, "incoming/1-old.csv", "profile_id\nx\n")
    put(s3_client, bucket, "incoming/2-new.csv", SAMPLE)
    page = to_field_mapping(client, bucket, s3_endpoint)
    assert page.context["wizard"]["steps"].current == "field_mapping"
    html = page.content.decode()
    assert "incoming/2-new.csv" in html and "Margaret" in html and "Shoe size" in html
    assert page.context["sample_page"].preview.columns[0] == "Profile ID"
    mapping = mapping_of(page)
    assert mapping["profile_id"] == "Profile ID"
    assert mapping["first_name"] == "First Name"
    assert mapping["email"] == "email"
    assert mapping["loyalty_points"] == "Loyalty-Points"
    assert mapping["last_name"] is None or mapping["last_name"] == ""
    assert '<select name="field_mapping-map__profile_id"' in html
    assert "Columns not mapped (their values are not read): Shoe size." in html
    assert not SourceFile.objects.exists()
    assert keys(s3_client, bucket) == ["incoming/1-old.csv", "incoming/2-new.csv"]


def test_another_listed_file_can_be_picked_and_the_mapping_follows(
    client, bucket, s3_endpoint, s3_client
) -> None:
    put(s3_client, bucket, "incoming/a.csv", SAMPLE)
    put(s3_client, bucket, "incoming/b.csv", "id,EMAIL\n1,x@example.com\n")
    to_field_mapping(client, bucket, s3_endpoint)
    picked = press_sample_button(
        client, NEW, "pick", field_mapping_values(), sample_key="incoming/a.csv"
    )
    assert picked.context["sample_page"].origin.name == "incoming/a.csv"
    assert mapping_of(picked)["profile_id"] == "Profile ID"
    refused = press_sample_button(
        client, NEW, "pick", field_mapping_values(), sample_key="elsewhere/secret.csv"
    )
    assert "Choose one of the listed files." in refused.content.decode()


def test_the_pattern_and_format_of_step_2_choose_and_read_the_sample(
    client, bucket, s3_endpoint, s3_client
) -> None:
    put(s3_client, bucket, "incoming/other.csv", SAMPLE)
    put(s3_client, bucket, "incoming/profiles.ndjson", '{"profile_id": "p1", "email": "a@b.co"}\n')
    page = to_field_mapping(
        client, bucket, s3_endpoint, file_pattern="*.ndjson", file_format="ndjson"
    )
    assert page.context["sample_page"].origin.name == "incoming/profiles.ndjson"
    assert page.context["sample_page"].preview.columns == ["profile_id", "email"]


def test_an_empty_directory_takes_an_uploaded_sample(
    client, bucket, s3_endpoint, s3_client
) -> None:
    page = to_field_mapping(client, bucket, s3_endpoint)
    html = page.content.decode()
    assert "No file in the Source Files Directory matches this connector yet." in html
    assert 'name="sample_file"' in html and 'enctype="multipart/form-data"' in html
    upload = SimpleUploadedFile("mine.csv", SAMPLE.encode(), content_type="text/csv")
    shown = press_sample_button(client, NEW, "upload", field_mapping_values(), sample_file=upload)
    assert shown.context["sample_page"].origin.uploaded
    assert "Margaret" in shown.content.decode()
    assert mapping_of(shown)["profile_id"] == "Profile ID"
    again = post_step(
        client, NEW, "field_mapping", field_mapping_values(), wizard_goto_step="field_mapping"
    )
    assert again.context["sample_page"].origin.name == "mine.csv"  # kept with the wizard
    assert keys(s3_client, bucket) == []


def test_an_upload_keeps_only_its_first_bytes(client, bucket, s3_endpoint, settings) -> None:
    settings.WIZARD_SAMPLE_BYTES = 2048
    to_field_mapping(client, bucket, s3_endpoint)
    big = SAMPLE + "".join(f"P-{n},Name,n{n}@example.com,{n},40\n" for n in range(10_000))
    upload = SimpleUploadedFile("big.csv", big.encode())
    shown = press_sample_button(client, NEW, "upload", field_mapping_values(), sample_file=upload)
    page = shown.context["sample_page"]
    assert page.sample.cut_short and len(page.sample.text) <= 2048
    assert not any(row.problem for row in page.preview.rows)
    stored = " ".join(s.session_data for s in Session.objects.all())
    assert len(stored) < 4 * 2048  # the first bytes, compressed and encoded


def test_the_upload_is_refused_while_the_directory_holds_files(
    client, bucket, s3_endpoint, s3_client
) -> None:
    put(s3_client, bucket, "incoming/a.csv", SAMPLE)
    to_field_mapping(client, bucket, s3_endpoint)
    upload = SimpleUploadedFile("mine.csv", b"x\n1\n")
    shown = press_sample_button(client, NEW, "upload", field_mapping_values(), sample_file=upload)
    assert "choose one of them instead" in shown.content.decode()
    assert shown.context["sample_page"].origin.name == "incoming/a.csv"


def test_an_unreadable_sample_gives_the_parsers_message_and_typed_columns_still_work(
    client, bucket, s3_endpoint, s3_client, alice
) -> None:
    put(s3_client, bucket, "incoming/latin1.csv", "profile_id,caf\xe9\n1,2\n".encode("latin-1"))
    page = to_field_mapping(client, bucket, s3_endpoint)
    html = page.content.decode()
    assert "This sample cannot be read: the file is not UTF-8 text: byte 0xE9" in html
    assert 'name="field_mapping-map__profile_id" value="profile_id"' in html  # typed, as before
    review = through_to_review(client, NEW, mapping=field_mapping_values(email="mail"))
    assert review.context["wizard"]["steps"].current == "review"
    assert post_step(client, NEW, "review", {}).status_code == 302
    assert Connector.objects.get(owner=alice).field_mapping["email"] == "mail"


def test_a_listing_that_fails_says_why_and_offers_an_upload(client, s3_endpoint) -> None:
    page = to_field_mapping(client, "no-such-bucket-loadbay", s3_endpoint)
    html = page.content.decode()
    assert "Listing the Source Files Directory: The bucket does not exist" in html
    assert 'name="sample_file"' in html


def test_required_fields_must_be_mapped_and_a_column_feeds_one_field(
    client, bucket, s3_endpoint, s3_client
) -> None:
    put(s3_client, bucket, "incoming/a.csv", SAMPLE)
    to_field_mapping(client, bucket, s3_endpoint)
    missing = post_step(client, NEW, "field_mapping", field_mapping_values(profile_id=""))
    assert missing.context["wizard"]["steps"].current == "field_mapping"
    assert missing.context["form"].errors["map__profile_id"] == [
        "Map this field to a column: it is required."
    ]
    twice = post_step(
        client, NEW, "field_mapping", field_mapping_values(first_name="email", email="email")
    )
    assert "Each file column can feed one field only; repeated: email" in twice.content.decode()


def test_check_sample_lists_the_bad_row_writes_nothing_and_review_shows_it(
    client, bucket, s3_endpoint, s3_client
) -> None:
    put(s3_client, bucket, "incoming/a.csv", SAMPLE)
    page = to_field_mapping(client, bucket, s3_endpoint)
    values = {name: value or "" for name, value in mapping_of(page).items()}
    checked = press_sample_button(client, NEW, "check", {f"map__{k}": v for k, v in values.items()})
    result = checked.context["dry_run"]
    assert (result.rows, result.created, result.failed_rows) == (2, 0, 1)  # the file fails
    assert {(p.line, p.column) for p in result.problems} == {(3, "email"), (3, "Loyalty-Points")}
    html = checked.content.decode()
    assert 'id="dry-run-problems"' in html and "A run would fail this file" in html
    assert not Record.objects.exists() and not SourceFile.objects.exists()
    review = through_to_review(client, NEW, mapping={f"map__{k}": v for k, v in values.items()})
    section = review.content.decode().split('id="review-field-mapping"')[1]
    assert "incoming/a.csv" in section and "Rows that would fail" in section
    assert "1 of 2 rows is invalid; the connector allows none" in section
    assert "Profile id" in section.split("</table>")[0]  # labels, in the entity's order
    assert section.index("Profile id") < section.index("First name") < section.index("Email")


def test_review_says_when_the_mapping_changed_since_the_check(
    client, bucket, s3_endpoint, s3_client
) -> None:
    put(s3_client, bucket, "incoming/a.csv", SAMPLE)
    page = to_field_mapping(client, bucket, s3_endpoint)
    values = {f"map__{k}": v or "" for k, v in mapping_of(page).items()}
    press_sample_button(client, NEW, "check", values)
    review = through_to_review(client, NEW, mapping={**values, "map__loyalty_points": ""})
    assert "changed since this check" in review.content.decode()


def test_editing_is_prefilled_with_the_saved_mapping(
    client, alice, bucket, s3_endpoint, s3_client
) -> None:
    mapping = {"profile_id": "Profile ID", "email": "e-mail"}
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, mapping=mapping)
    put(s3_client, bucket, "incoming/a.csv", SAMPLE)
    url = f"/connectors/{connector.pk}/edit/"
    client.get(url)
    post_step(client, url, "entity", entity_values())
    post_step(client, url, "entity_settings", entity_settings_values())
    post_step(client, url, "source", source_values(name="Profiles"))
    page = post_step(
        client,
        url,
        "source_settings",
        s3_access_key_values(bucket, endpoint=s3_endpoint, access_key_secret=""),
    )
    assert page.context["wizard"]["steps"].current == "field_mapping"
    shown = mapping_of(page)
    assert shown["profile_id"] == "Profile ID" and shown["email"] == "e-mail"
    assert shown["first_name"] == ""  # saved as not mapped, not guessed
    assert "e-mail (not in the sample)" in page.content.decode()


def test_an_upload_is_refused_without_the_csrf_token(alice, bucket, s3_endpoint) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    upload = SimpleUploadedFile("mine.csv", SAMPLE.encode())
    response = client.post(NEW + "?sample=upload", {"sample_file": upload})
    assert response.status_code == 403


def test_step_4_settings_no_longer_valid_are_sent_back_to_not_read(
    client, bucket, s3_endpoint, s3_client, settings
) -> None:
    put(s3_client, bucket, "incoming/a.csv", SAMPLE)
    to_field_mapping(client, bucket, s3_endpoint)
    settings.S3_ALLOWED_ENDPOINTS = []  # an administrator took the endpoint away meanwhile
    page = press_sample_button(client, NEW, "check", field_mapping_values())
    html = page.content.decode()
    assert "Check the Source Specific Settings (step 4) again." in html
    assert "There is no sample to check" in html
