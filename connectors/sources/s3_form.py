"""The S3 source's Source Specific Settings form (the spec's S3 screen): each field's rules and
messages, the IAM trust policy it shows, and the secret it turns into an encrypted token."""

import ipaddress
import json
import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from connectors import crypto
from connectors.aws import PRINCIPAL_UNSET, loadbay_principal
from connectors.endpoints import InvalidEndpoint, endpoint_origin
from connectors.key_shapes import key_id_problem, secret_problem
from connectors.models import AuthType, new_external_id
from connectors.paths import InvalidPath, is_inside, normalize_dir

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IAM_ROLE_ARN_RE = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
SECRET_MASK = "••••••••"  # noqa: S105 (what is shown instead of a secret)


def validate_bucket_name(name: str) -> None:
    """The S3 bucket naming rules, each with its own message."""
    if not 3 <= len(name) <= 63:
        raise ValidationError("Bucket names are 3 to 63 characters long.")
    if not BUCKET_RE.match(name):
        raise ValidationError(
            "Bucket names use only lower-case letters, digits, dots and hyphens, and begin "
            "and end with a letter or digit."
        )
    if ".." in name or ".-" in name or "-." in name:
        raise ValidationError(
            "Bucket names cannot contain two adjacent dots or a dot next to a hyphen."
        )
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        raise ValidationError("Bucket names cannot be formatted as an IP address.")
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(
        ("-s3alias", "--ol-s3", ".mrap", "--x-s3")
    ):
        raise ValidationError("This bucket name uses a prefix or suffix that AWS reserves.")


def validate_endpoint_url(url: str) -> str:
    """Only endpoints listed in S3_ALLOWED_ENDPOINTS, so the field cannot reach internal hosts;
    returns the normalised origin, which is what is stored and connected to."""
    allowed = settings.S3_ALLOWED_ENDPOINTS
    if not allowed:
        raise ValidationError(
            "This installation connects to AWS S3 only; custom endpoints are turned off "
            "(an administrator can allow some with S3_ALLOWED_ENDPOINTS)."
        )
    try:
        origin = endpoint_origin(url)
    except InvalidEndpoint as exc:
        raise ValidationError(str(exc)) from None
    if origin not in allowed:
        raise ValidationError(
            f"This endpoint ({origin}) is not allowed here. Allowed: " + ", ".join(allowed) + "."
        )
    return origin


def trust_policy(external_id: str) -> str:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": loadbay_principal()},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
    return json.dumps(policy, indent=2)


def _path_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=1024, help_text=help_text)


class S3SettingsForm(forms.Form):
    bucket = forms.CharField(
        label="Bucket",
        max_length=255,  # validate_bucket_name explains the real limit of 63
        help_text="The S3 bucket that holds the files, e.g. acme-customer-exports.",
    )
    auth_type = forms.ChoiceField(
        label="Authentication Type",
        choices=AuthType.choices,
        widget=forms.RadioSelect,
        help_text="Access Key ID and Secret: a key pair of an IAM user. IAM role: Loadbay assumes "
        "a role in your account (recommended). The chosen type's fields are required.",
        error_messages={"required": "Choose an Authentication Type."},
    )
    access_key_id = forms.CharField(
        label="Access Key ID",
        required=False,
        max_length=128,
        help_text="The public half of the key pair. AWS: 16 to 128 upper-case letters and "
        "digits, e.g. AKIAIOSFODNN7EXAMPLE. With an S3 Endpoint URL (MinIO and other "
        "S3-compatible stores): any letters, digits and punctuation, e.g. minioadmin.",
    )
    access_key_secret = forms.CharField(
        label="Access Key Secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The private half of the key pair. AWS: at least 16 characters, no spaces. "
        "With an S3 Endpoint URL: any printable characters. Stored encrypted and never shown "
        "again.",
    )
    iam_role_arn = forms.CharField(
        label="IAM ARN",
        required=False,
        max_length=2048,
        help_text="The role to assume: arn:aws:iam::<12-digit account ID>:role/<role name>.",
    )
    region = forms.CharField(
        label="Region",
        required=False,
        max_length=32,
        help_text="Optional, e.g. eu-west-1. Blank uses " + "the default region.",
    )
    endpoint_url = forms.CharField(
        label="S3 Endpoint URL",
        required=False,
        max_length=255,
        help_text="Advanced: an S3-compatible store (MinIO, Ceph, …) as scheme://host:port, e.g. "
        "https://minio.example.com:9000, with no path; only endpoints this installation allows. "
        "Leave blank for AWS S3.",
    )
    source_path = _path_field(
        "Source Files Directory Path",
        "The directory Loadbay reads files from, e.g. exports/profiles/. Blank: the bucket root.",
    )
    success_path = _path_field(
        "Successful Files Directory Path",
        "Where successfully ingested files are moved. Blank: they are deleted from the source "
        "directory after processing.",
    )
    failed_path = _path_field(
        "Failed Files Directory Path",
        "Where files that fail to ingest are moved. Blank: they stay in the source directory "
        "(and are retried only when their content changes).",
    )

    def __init__(
        self, *args: Any, stored_secret: str = "", external_id: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stored_secret = stored_secret
        self.external_id = external_id or new_external_id()
        self.notes: list[str] = []
        # What is wrong with a secret typed on this form, for AWS (False) and other stores (True).
        self.secret_problems: dict[bool, str | None] = {}
        if stored_secret:
            self.fields["access_key_secret"].widget.attrs["placeholder"] = (
                f"{SECRET_MASK} stored — leave blank to keep it"
            )
        self.fields[
            "region"
        ].help_text = f"Optional, e.g. eu-west-1. Blank uses {settings.AWS_DEFAULT_REGION}."

    @property
    def trust_policy(self) -> str:
        return trust_policy(self.external_id)

    @property
    def principal_arn(self) -> str:
        """The principal the trust policy names; '' when the administrator has not set it."""
        return loadbay_principal()

    @property
    def principal_unset(self) -> str:
        return PRINCIPAL_UNSET

    @property
    def secret_required(self) -> bool:
        """Whether the page marks the Access Key Secret required (for Access Key ID and
        Secret): no secret is held for it yet, stored or typed earlier."""
        held = getattr(self, "cleaned_data", {}).get("access_key_secret")
        return not (self.stored_secret or held)

    def _text(self, name: str) -> str:
        """A text field's value, stripped."""
        value: str = self.cleaned_data[name]
        return value.strip()

    def clean_bucket(self) -> str:
        name = self._text("bucket")
        validate_bucket_name(name)
        return name

    def clean_access_key_id(self) -> str:
        return self._text("access_key_id")

    @sensitive_variables()
    def clean_access_key_secret(self) -> str:
        """Always returns an encrypted token (or ''): the plain secret never leaves this method.
        Its shape depends on the endpoint, checked in clean(): what is wrong with it for AWS
        and for other stores is noted here, while it is at hand."""
        value: str = self.cleaned_data["access_key_secret"]
        if not value:
            return self.stored_secret
        if crypto.is_token(value):
            try:
                plain = crypto.decrypt(value)
            except crypto.SecretUnreadable:
                raise ValidationError("Enter the Access Key Secret again.") from None
        else:
            plain = value
        self.secret_problems = {
            custom: secret_problem(plain, custom_endpoint=custom) for custom in (False, True)
        }
        return value if crypto.is_token(value) else crypto.encrypt(plain)

    def clean_iam_role_arn(self) -> str:
        arn = self._text("iam_role_arn")
        if arn and not IAM_ROLE_ARN_RE.match(arn):
            raise ValidationError(
                "Enter a role ARN in the form arn:aws:iam::<12-digit account ID>:role/<role name>, "
                "e.g. arn:aws:iam::123456789012:role/loadbay-reader."
            )
        return arn

    def clean_region(self) -> str:
        region = self._text("region").lower()
        if region and not REGION_RE.match(region):
            raise ValidationError("Enter an AWS region code such as us-east-1 or eu-west-2.")
        return region

    def clean_endpoint_url(self) -> str:
        url = self._text("endpoint_url")
        return validate_endpoint_url(url) if url else ""

    def _clean_dir(self, name: str) -> str:
        try:
            return normalize_dir(self.cleaned_data[name])
        except InvalidPath as exc:
            raise ValidationError(str(exc)) from None

    def clean_source_path(self) -> str:
        return self._clean_dir("source_path")

    def clean_success_path(self) -> str:
        return self._clean_dir("success_path")

    def clean_failed_path(self) -> str:
        return self._clean_dir("failed_path")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self._clean_auth(cleaned)
        self._clean_key_shapes(cleaned)
        self._clean_directories(cleaned)
        if cleaned.get("access_key_secret"):
            # Re-displayed forms (errors, Test connection) say a secret is held for them.
            self.fields["access_key_secret"].widget.attrs["placeholder"] = (
                f"{SECRET_MASK} stored — leave blank to keep it"
            )
        return cleaned

    def _clean_auth(self, cleaned: dict[str, Any]) -> None:
        # Only the chosen Authentication Type's fields count; the others are discarded.
        if cleaned.get("auth_type") == AuthType.ACCESS_KEY:
            cleaned["iam_role_arn"] = ""
            if "access_key_id" in cleaned and not cleaned["access_key_id"]:
                self.add_error("access_key_id", "Enter the Access Key ID.")
            if "access_key_secret" in cleaned and not cleaned["access_key_secret"]:
                self.add_error("access_key_secret", "Enter the Access Key Secret.")
        elif cleaned.get("auth_type") == AuthType.IAM_ROLE:
            cleaned["access_key_id"] = ""
            cleaned["access_key_secret"] = ""
            if "iam_role_arn" in cleaned and not cleaned["iam_role_arn"]:
                self.add_error("iam_role_arn", "Enter the IAM ARN of the role to assume.")

    def _clean_key_shapes(self, cleaned: dict[str, Any]) -> None:
        """AWS's key shapes for AWS S3; any printable key for another store. An endpoint that
        was refused still counts as one, so its error is not joined by misleading others."""
        if cleaned.get("auth_type") != AuthType.ACCESS_KEY:
            return
        custom = bool(cleaned.get("endpoint_url")) or "endpoint_url" not in cleaned
        key_id = cleaned.get("access_key_id")
        problem = key_id_problem(key_id, custom_endpoint=custom) if key_id else None
        if problem:
            self.add_error("access_key_id", problem)
        problem = self.secret_problems.get(custom)
        if problem and cleaned.get("access_key_secret"):
            self.add_error("access_key_secret", problem)

    def _clean_directories(self, cleaned: dict[str, Any]) -> None:
        source = cleaned.get("source_path")
        if source is None:
            return
        labels = {"success_path": "Successful", "failed_path": "Failed"}
        for name, label in labels.items():
            target = cleaned.get(name)
            if not target:
                continue
            if target == source:
                self.add_error(
                    name,
                    f"The {label} Files Directory must differ from the Source Files Directory.",
                )
            elif is_inside(target, source):
                self.notes.append(
                    f"The {label} Files Directory ({target}) is inside the Source Files Directory; "
                    "that is fine: files under it are never picked up as new source files."
                )
            elif is_inside(source, target):
                self.add_error(
                    name,
                    f"The {label} Files Directory cannot contain the Source Files "
                    "Directory: moved files would be picked up again.",
                )
        success, failed = cleaned.get("success_path"), cleaned.get("failed_path")
        if success and failed and success == failed:
            self.add_error(
                "failed_path",
                "The Failed Files Directory must differ from the Successful Files Directory.",
            )
