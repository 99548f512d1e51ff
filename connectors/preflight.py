"""The S3 source's Test connection: check, with the connector's own credentials, every
permission its file rules need, and name each one that is missing. Nothing is saved; probe
objects are removed."""

import uuid
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError
from django.views.decorators.debug import sensitive_variables

from connectors.aws import S3AccessError, S3Client, S3Params, describe_error, make_s3_client
from connectors.checks import Check
from connectors.paths import PROBE_PREFIX, is_probe_key

PROBE_BODY = b"Loadbay permission probe; safe to delete.\n"
# Errors of the settings themselves, before any request: no permission is missing.
SETUP_ERRORS = {"EndpointInvalid", "EndpointNotAllowed", "ClientSetupFailed", "SecretUnreadable"}


def _attempt(name: str, permission: str, call: Callable[[], str]) -> Check:
    try:
        detail = call()
    except (ClientError, BotoCoreError) as exc:
        error = describe_error(exc, action=name)
        return Check(name=name, ok=False, detail=str(error), permission=permission)
    return Check(name=name, ok=True, detail=detail, permission=permission)


def _where(bucket: str, prefix: str) -> str:
    return f"s3://{bucket}/{prefix}"


def _first_file(client: S3Client, params: S3Params) -> str | None:
    response = client.list_objects_v2(Bucket=params.bucket, Prefix=params.source_path, MaxKeys=50)
    for item in response.get("Contents", []):
        key = item["Key"]
        if not key.endswith("/") and not is_probe_key(key):
            return key
    return None


def _check_read(client: S3Client, params: S3Params, key: str | None) -> Check:
    name = "Read a file in the Source Files Directory"
    if key is None:
        return Check(
            name=name,
            ok=True,
            skipped=True,
            permission="s3:GetObject",
            detail="No file in the source directory yet, so reading was not tried.",
        )

    def read() -> str:
        client.get_object(Bucket=params.bucket, Key=key, Range="bytes=0-0")["Body"].read()
        return f"Read {key}."

    return _attempt(name, "s3:GetObject", read)


def _check_delete_in_source(client: S3Client, params: S3Params) -> Check:
    # Deleting a key that does not exist succeeds only with s3:DeleteObject, and touches nothing.
    key = f"{params.source_path}{PROBE_PREFIX}{uuid.uuid4().hex}-absent"

    def delete() -> str:
        client.delete_object(Bucket=params.bucket, Key=key)
        return "Processed files can be removed from the source directory."

    return _attempt("Delete from the Source Files Directory", "s3:DeleteObject", delete)


def _check_write(client: S3Client, params: S3Params, label: str, prefix: str) -> list[Check]:
    key = f"{prefix}{PROBE_PREFIX}{uuid.uuid4().hex}"
    where = _where(params.bucket, prefix)

    def put() -> str:
        client.put_object(Bucket=params.bucket, Key=key, Body=PROBE_BODY)
        return f"Wrote a probe object in {where}."

    def delete() -> str:
        client.delete_object(Bucket=params.bucket, Key=key)
        return f"Removed the probe object from {where}."

    wrote = _attempt(f"Write to the {label}", "s3:PutObject", put)
    if not wrote.ok:
        return [wrote]
    return [wrote, _attempt(f"Clean up in the {label}", "s3:DeleteObject", delete)]


def setup_failed(error: S3AccessError) -> list[Check]:
    """The result when no client could be built: what is wrong, as a failed check."""
    if error.code in SETUP_ERRORS:
        return [Check(name="Use these settings", ok=False, detail=str(error))]
    return [Check(name="Authenticate", ok=False, detail=str(error), permission="sts:AssumeRole")]


@sensitive_variables()
def run_checks(params: S3Params) -> list[Check]:
    """Every check the connector's settings call for, in order; stops only if nothing works."""
    try:
        client = make_s3_client(params)
    except S3AccessError as exc:
        return setup_failed(exc)
    checks: list[Check] = []
    if params.auth_type == "iam_role":
        checks.append(
            Check(
                name="Authenticate",
                ok=True,
                permission="sts:AssumeRole",
                detail=f"Assumed {params.iam_role_arn}.",
            )
        )
    found: dict[str, str | None] = {}

    def listing() -> str:
        found["key"] = _first_file(client, params)
        return f"Listed {_where(params.bucket, params.source_path)}."

    listed = _attempt("List the Source Files Directory", "s3:ListBucket", listing)
    checks.append(listed)
    if not listed.ok and listed.detail.endswith(
        (
            "(NoSuchBucket)",
            "(InvalidAccessKeyId)",
            "(SignatureDoesNotMatch)",
            "(EndpointConnectionError)",
        )
    ):
        return checks
    checks.append(_check_read(client, params, found.get("key")))
    checks.append(_check_delete_in_source(client, params))
    if params.success_path:
        checks.extend(
            _check_write(client, params, "Successful Files Directory", params.success_path)
        )
    if params.failed_path:
        checks.extend(_check_write(client, params, "Failed Files Directory", params.failed_path))
    return checks
