"""The Source Specific Settings form: every rule of the spec's S3 screen, with its message."""

from typing import Any

import pytest

from connectors import crypto
from connectors.paths import InvalidPath, normalize_dir
from connectors.sources.s3_form import S3SettingsForm

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def form(**overrides: Any) -> S3SettingsForm:
    data = {
        "bucket": "acme-data",
        "auth_type": "access_key",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "access_key_secret": SECRET,
        "iam_role_arn": "",
        "region": "",
        "endpoint_url": "",
        "source_path": "incoming/",
        "success_path": "done/",
        "failed_path": "failed/",
    }
    stored = overrides.pop("stored_secret", "")
    data.update(overrides)
    return S3SettingsForm(data=data, stored_secret=stored)


def errors(f: S3SettingsForm, field: str) -> str:
    assert not f.is_valid()
    return " ".join(f.errors.get(field, []))


def test_it_accepts_a_complete_access_key_connection(db) -> None:
    f = form()
    assert f.is_valid(), f.errors
    assert crypto.decrypt(f.cleaned_data["access_key_secret"]) == SECRET


@pytest.mark.parametrize(
    ("bucket", "message"),
    [
        ("ab", "3 to 63 characters"),
        ("a" * 64, "3 to 63 characters"),
        ("Acme-Data", "lower-case letters"),
        ("acme_data", "lower-case letters"),
        ("-acme", "lower-case letters"),
        ("acme..data", "two adjacent dots"),
        ("acme.-data", "dot next to a hyphen"),
        ("192.168.1.10", "IP address"),
        ("xn--acme", "reserves"),
        ("acme-s3alias", "reserves"),
    ],
)
def test_it_rejects_bad_bucket_names(db, bucket: str, message: str) -> None:
    assert message in errors(form(bucket=bucket), "bucket")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/loadbay",
        "arn:aws:iam::123456789012:role/service-role/loadbay-reader",
        "arn:aws:iam::000000000000:role/a+b=c,d.e@f-g_h",
    ],
)
def test_it_accepts_role_arns(db, arn: str) -> None:
    f = form(auth_type="iam_role", iam_role_arn=arn, access_key_id="", access_key_secret="")
    assert f.is_valid(), f.errors


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::12345678901:role/short-account",
        "arn:aws:iam::123456789012:user/alice",
        "arn:aws:s3:::acme-data",
        "arn:aws:iam::123456789012:role/",
        "123456789012:role/loadbay",
    ],
)
def test_it_rejects_bad_arns(db, arn: str) -> None:
    f = form(auth_type="iam_role", iam_role_arn=arn)
    assert "arn:aws:iam::<12-digit account ID>:role/<role name>" in errors(f, "iam_role_arn")


@pytest.mark.parametrize(
    "key_id", ["akiaiosfodnn7example", "AKIA-123", "AKIA123", "AKIA IOSFODNN7EXAMPLE"]
)
def test_it_rejects_malformed_access_key_ids(db, key_id: str) -> None:
    assert "16 to 128 upper-case letters and digits" in errors(
        form(access_key_id=key_id), "access_key_id"
    )


def test_access_key_fields_are_required_for_access_key_auth(db) -> None:
    f = form(access_key_id="", access_key_secret="")
    assert "Enter the Access Key ID." in errors(f, "access_key_id")
    assert "Enter the Access Key Secret." in errors(f, "access_key_secret")


def test_iam_role_auth_requires_the_arn_and_discards_the_keys(db) -> None:
    assert "Enter the IAM ARN" in errors(form(auth_type="iam_role"), "iam_role_arn")
    f = form(auth_type="iam_role", iam_role_arn="arn:aws:iam::123456789012:role/x")
    assert f.is_valid(), f.errors
    assert f.cleaned_data["access_key_id"] == "" and f.cleaned_data["access_key_secret"] == ""


def test_access_key_auth_discards_the_arn(db) -> None:
    f = form(iam_role_arn="arn:aws:iam::123456789012:role/x")
    assert f.is_valid(), f.errors
    assert f.cleaned_data["iam_role_arn"] == ""


def test_a_blank_secret_keeps_the_stored_one(db) -> None:
    stored = crypto.encrypt("an-older-secret-value-1234")
    f = form(access_key_secret="", stored_secret=stored)
    assert f.is_valid(), f.errors
    assert f.cleaned_data["access_key_secret"] == stored


def test_a_short_secret_is_refused(db) -> None:
    assert "at least 16 characters" in errors(form(access_key_secret="short"), "access_key_secret")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("", ""),
        ("/", ""),
        ("/a//b", "a/b/"),
        ("a/b/", "a/b/"),
        (" in coming ", "in coming/"),
        ("a\\b", "a/b/"),
    ],
)
def test_paths_are_normalised(raw: str, normalised: str) -> None:
    assert normalize_dir(raw) == normalised


@pytest.mark.parametrize("raw", ["a/../b", "./a", "a/\x00"])
def test_unsafe_paths_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPath):
        normalize_dir(raw)


def test_target_directories_must_differ_from_the_source(db) -> None:
    assert "must differ from the Source" in errors(form(success_path="/incoming"), "success_path")
    assert "must differ from the Source" in errors(form(failed_path="incoming//"), "failed_path")


def test_successful_and_failed_directories_must_differ(db) -> None:
    assert "must differ from the Successful" in errors(
        form(success_path="out/", failed_path="out/"), "failed_path"
    )


def test_a_target_containing_the_source_is_refused(db) -> None:
    f = form(source_path="data/incoming/", success_path="data/")
    assert "cannot contain the Source" in errors(f, "success_path")


def test_a_target_inside_the_source_is_accepted_with_a_note(db) -> None:
    f = form(success_path="incoming/done/")
    assert f.is_valid(), f.errors
    assert any("never picked up" in note for note in f.notes)


def test_custom_endpoints_are_refused_when_none_are_allowed(db, settings) -> None:
    settings.S3_ALLOWED_ENDPOINTS = []
    assert "AWS S3 only" in errors(form(endpoint_url="https://minio.example.com"), "endpoint_url")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9000",
        "http://10.0.0.1",
        "http://[::1]:9000",
        "https://minio.example.com:9001",
        "https://user:pw@minio.example.com:9000",
        "file:///etc/passwd",
    ],
)
def test_only_listed_endpoints_are_accepted(db, settings, url: str) -> None:
    settings.S3_ALLOWED_ENDPOINTS = ["https://minio.example.com:9000"]
    assert errors(form(endpoint_url=url), "endpoint_url")


def test_a_listed_endpoint_is_accepted(db, settings) -> None:
    settings.S3_ALLOWED_ENDPOINTS = ["https://minio.example.com:9000"]
    f = form(endpoint_url="https://minio.example.com:9000/")
    assert f.is_valid(), f.errors
    assert f.cleaned_data["endpoint_url"] == "https://minio.example.com:9000"


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://MinIO.Example.COM:9000",
        "https://minio.example.com.:9000/",
        "https://MINIO.example.com:09000",
    ],
)
def test_a_listed_endpoint_is_stored_in_its_normalised_form(db, settings, url: str) -> None:
    settings.S3_ALLOWED_ENDPOINTS = ["https://minio.example.com:9000"]
    f = form(endpoint_url=url)
    assert f.is_valid(), f.errors
    assert f.cleaned_data["endpoint_url"] == "https://minio.example.com:9000"


def test_a_default_port_matches_the_listed_origin(db, settings) -> None:
    settings.S3_ALLOWED_ENDPOINTS = ["https://s3.example.com:443"]
    f = form(endpoint_url="https://s3.example.com")
    assert f.is_valid(), f.errors
    assert f.cleaned_data["endpoint_url"] == "https://s3.example.com:443"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:\t4570", "control character or whitespace"),
        ("http://[127.0.0.1]:4570", "Only an IPv6 address goes in square brackets"),
        ("http://[::1", "not closed"),
        ("http://127.0.0.1:4570/moto-api", "A path (/moto-api) is not allowed"),
        ("http://127.0.0.1:4570/../../", "A path (/../../) is not allowed"),
        ("http://127.0.0.1%09:4570", "Percent-encoded"),
        ("http://u:p@127.0.0.1:4570", "user name or password"),
        ("http://127.0.0.1:4570?x", "query"),
        ("http://127.0.0.1:4570#x", "fragment"),
    ],
)
def test_a_malformed_endpoint_gets_a_field_error_that_says_why(
    db, settings, url: str, reason: str
) -> None:
    settings.S3_ALLOWED_ENDPOINTS = ["http://127.0.0.1:4570"]
    assert reason in errors(form(endpoint_url=url), "endpoint_url")


# --- key shapes: AWS's for AWS S3, any printable key for other S3-compatible stores -----------

MINIO = "https://minio.example.com:9000"


@pytest.mark.parametrize(
    ("key_id", "secret"), [("minioadmin", "minioadmin"), ("S3RVER", "S3RVER"), ("ab", "x y!")]
)
def test_an_s3_compatible_store_accepts_its_own_key_shapes(
    db, settings, key_id: str, secret: str
) -> None:
    settings.S3_ALLOWED_ENDPOINTS = [MINIO]
    f = form(endpoint_url=MINIO, access_key_id=key_id, access_key_secret=secret)
    assert f.is_valid(), f.errors
    assert f.cleaned_data["access_key_id"] == key_id
    assert crypto.decrypt(f.cleaned_data["access_key_secret"]) == secret


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("access_key_id", "minio admin", "a control character or space (U+0020)"),
        ("access_key_id", "minio\tadmin", "a control character or space (U+0009)"),
        ("access_key_id", "mínio", "the character 'í'"),
        ("access_key_secret", "minio\x07admin", "contains a control character"),
        ("access_key_secret", "minio\nadmin", "contains a control character"),
    ],
)
def test_an_s3_compatible_store_still_refuses_control_characters(
    db, settings, field: str, value: str, message: str
) -> None:
    settings.S3_ALLOWED_ENDPOINTS = [MINIO]
    f = form(endpoint_url=MINIO, **{field: value})
    assert message in errors(f, field)
    if field == "access_key_secret":
        assert "access_key_secret" not in f.cleaned_data


def test_aws_keeps_its_key_shapes(db) -> None:
    f = form(access_key_id="minioadmin", access_key_secret="minioadmin")
    assert "16 to 128 upper-case letters and digits" in errors(f, "access_key_id")
    assert "at least 16 characters" in errors(f, "access_key_secret")
    assert "set its S3 Endpoint URL under Advanced" in errors(f, "access_key_id")


def test_a_refused_endpoint_adds_no_aws_key_errors(db, settings) -> None:
    settings.S3_ALLOWED_ENDPOINTS = [MINIO]
    f = form(endpoint_url="https://other.example.com", access_key_id="minioadmin")
    assert "not allowed here" in errors(f, "endpoint_url")
    assert "access_key_id" not in f.errors


def test_a_stored_secret_is_kept_for_an_s3_compatible_store(db, settings) -> None:
    settings.S3_ALLOWED_ENDPOINTS = [MINIO]
    stored = crypto.encrypt("minioadmin")
    f = form(
        endpoint_url=MINIO, access_key_id="minioadmin", access_key_secret="", stored_secret=stored
    )
    assert f.is_valid(), f.errors
    assert f.cleaned_data["access_key_secret"] == stored


def test_a_secret_held_as_a_token_is_checked_like_a_typed_one(db, settings) -> None:
    settings.S3_ALLOWED_ENDPOINTS = [MINIO]
    token = crypto.encrypt("minioadmin")
    assert form(endpoint_url=MINIO, access_key_id="minioadmin", access_key_secret=token).is_valid()
    f = form(access_key_secret=token)
    assert "at least 16 characters" in errors(f, "access_key_secret")
    assert "access_key_secret" not in f.cleaned_data


def test_the_help_texts_say_which_keys_are_accepted() -> None:
    fields = S3SettingsForm().fields
    assert "minioadmin" in fields["access_key_id"].help_text
    assert "16 to 128 upper-case letters" in fields["access_key_id"].help_text
    assert "any printable characters" in fields["access_key_secret"].help_text
    assert "scheme://host:port" in fields["endpoint_url"].help_text


def test_the_iam_role_screen_shows_the_trust_policy_with_the_external_id(db) -> None:
    f = S3SettingsForm(external_id="loadbay-abc123")
    assert '"sts:ExternalId": "loadbay-abc123"' in f.trust_policy
    assert "sts:AssumeRole" in f.trust_policy
    assert '"AWS": "arn:aws:iam::123456789012:role/loadbay-tests"' in f.trust_policy
    assert f.principal_arn == "arn:aws:iam::123456789012:role/loadbay-tests"


def test_without_loadbays_principal_the_screen_says_the_administrator_must_set_it(
    db, settings
) -> None:
    settings.LOADBAY_AWS_PRINCIPAL_ARN = ""
    f = S3SettingsForm(external_id="loadbay-abc123")
    assert f.principal_arn == ""
    assert f.principal_unset.startswith(
        "Loadbay's AWS principal is not set: the administrator must set LOADBAY_AWS_PRINCIPAL_ARN"
    )


def test_no_authentication_type_is_chosen_until_the_user_chooses_one(db) -> None:
    html = str(S3SettingsForm()["auth_type"])
    assert 'value="access_key"' in html and 'value="iam_role"' in html
    assert "checked" not in html
    assert errors(form(auth_type=""), "auth_type") == "Choose an Authentication Type."


def test_the_secret_is_marked_required_until_one_is_held(db) -> None:
    assert S3SettingsForm().secret_required
    stored = crypto.encrypt("an-older-secret-value-1234")
    assert not S3SettingsForm(stored_secret=stored).secret_required
    typed = form()
    assert typed.is_valid(), typed.errors
    assert not typed.secret_required


def step_4_page(user: Any) -> str:
    """The S3 Source Specific Settings step as the wizard renders it, for a new connector."""
    from django.test import Client

    from tests.support.wizard import entity_settings_values, entity_values, post_step, source_values

    client = Client()
    client.force_login(user)
    url = "/connectors/new/"
    client.get(url)
    post_step(client, url, "entity", entity_values())
    post_step(client, url, "entity_settings", entity_settings_values())
    return post_step(client, url, "source", source_values()).content.decode()


def label_of(page: str, field: str) -> str:
    start = page.index(f'<label for="id_source_settings-{field}"')
    return page[start : page.index("</label>", start)]


def test_the_page_marks_each_types_fields_required_to_show_with_it(alice) -> None:
    page = step_4_page(alice)
    for field in ("access_key_id", "access_key_secret", "iam_role_arn"):
        assert 'class="req" title="required" data-required-mark>*' in label_of(page, field)
    assert "data-required-mark" not in label_of(page, "region")
    assert '<span class="req" title="required">*' in label_of(page, "bucket")


def test_the_page_shows_the_configured_principal_or_says_it_must_be_set(alice, settings) -> None:
    page = step_4_page(alice)
    assert 'id="principal-arn">arn:aws:iam::123456789012:role/loadbay-tests<' in page
    assert 'id="trust-policy"' in page and "000000000000" not in page
    settings.LOADBAY_AWS_PRINCIPAL_ARN = ""
    page = step_4_page(alice)
    assert 'id="trust-policy"' not in page
    assert "the administrator must set LOADBAY_AWS_PRINCIPAL_ARN" in page
