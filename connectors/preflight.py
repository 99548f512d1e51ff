"""The S3 source's Test connection: check, with the connector's own credentials, every
permission its file rules need, and name each one that is missing. Nothing is saved; probe
objects are removed."""

import uuid
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError
from django.views.decorators.debug import sensitive_variables

from connectors.aws import (
    PRINCIPAL_UNSET,
    S3AccessError,
    S3Client,
    S3Params,
    describe_error,
    loadbay_principal,
    make_s3_client,
)
from connectors.checks import Check
from connectors.models import AuthType
from connectors.paths import PROBE_PREFIX, is_probe_key

PROBE_BODY = b"Loadbay permission probe; safe to delete.\n"
# Errors of the settings themselves, before any request: no permission is missing.
SETUP_ERRORS = {"EndpointInvalid", "EndpointNotAllowed", "ClientSetupFailed", "SecretUnreadable"}
# The error codes that mean a request was refused for want of a permission (S3-compatible
# stores may answer a bare 403).
DENIED_CODES = {"AccessDenied", "403", "Forbidden"}
# Failures of the listing after which no other check can tell anything: the key or the
# endpoint is wrong, not a permission (a missing bucket is named on its own).
FATAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "EndpointConnectionError"}
LIST_SOURCE = "List the Source Files Directory"


def _failed(name: str, permission: str, error: S3AccessError) -> Check:
    return Check(
        name=name,
        ok=False,
        detail=str(error),
        permission=permission,
        denied=error.code in DENIED_CODES,
    )


def _attempt(name: str, permission: str, call: Callable[[], str]) -> Check:
    try:
        detail = call()
    except (ClientError, BotoCoreError) as exc:
        return _failed(name, permission, describe_error(exc, action=name))
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
    return [_failed("Authenticate", "sts:AssumeRole", error)]


def _principal_checks(params: S3Params) -> list[Check]:
    """For an IAM role: a failed check when the administrator has not set the principal the
    role must trust (the role may still be assumed, but no trust policy can be written)."""
    if params.auth_type != AuthType.IAM_ROLE or loadbay_principal():
        return []
    return [Check(name="Loadbay's AWS principal", ok=False, detail=PRINCIPAL_UNSET)]


def _check_listing(
    client: S3Client, params: S3Params, found: dict[str, str | None]
) -> tuple[Check, bool]:
    """The listing check, and whether the other checks can still tell anything after it. A
    missing bucket is named as such, with no permission (it is not one)."""
    try:
        found["key"] = _first_file(client, params)
    except (ClientError, BotoCoreError) as exc:
        error = describe_error(exc, action=LIST_SOURCE)
        if error.code == "NoSuchBucket":
            where = f" at {params.endpoint_url}" if params.endpoint_url else ""
            detail = (
                f"The bucket {params.bucket} does not exist{where} (NoSuchBucket): check the "
                "Bucket name."
            )
            return Check(name="Find the bucket", ok=False, detail=detail), False
        return _failed(LIST_SOURCE, "s3:ListBucket", error), error.code not in FATAL_CODES
    listed = f"Listed {_where(params.bucket, params.source_path)}."
    return Check(name=LIST_SOURCE, ok=True, detail=listed, permission="s3:ListBucket"), True


@sensitive_variables()
def run_checks(params: S3Params) -> list[Check]:
    """Every check the connector's settings call for, in order; stops only if nothing works."""
    checks = _principal_checks(params)
    try:
        client = make_s3_client(params)
    except S3AccessError as exc:
        return checks + setup_failed(exc)
    if params.auth_type == AuthType.IAM_ROLE:
        checks.append(
            Check(
                name="Authenticate",
                ok=True,
                permission="sts:AssumeRole",
                detail=f"Assumed {params.iam_role_arn}.",
            )
        )
    found: dict[str, str | None] = {}
    listed, go_on = _check_listing(client, params, found)
    checks.append(listed)
    if not go_on:
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
