"""The S3 source: how its settings (connectors.models.S3Settings, edited with
connectors.sources.s3_form) are stored, summarised, tested, shown in admin, and turned into the
S3 client a run uses."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db import transaction
from django.views.decorators.debug import sensitive_variables
from simple_history.utils import update_change_reason

from connectors import crypto
from connectors.aws import S3AccessError, S3Client, S3Params, shared_s3_client
from connectors.checks import Check
from connectors.models import AuthType, Connector, S3Settings, new_external_id
from connectors.preflight import run_checks, setup_failed
from connectors.sources.base import Source, SourceDirectories, SummaryRows
from connectors.sources.s3_form import SECRET_MASK, S3SettingsForm

SECRET_FIELD = "access_key_secret"  # noqa: S105 (a field name, not a secret)
# Why rotate_secrets changed a stored secret, as the connector's history says.
ROTATED = "the same secret, re-encrypted under the newest key by rotate_secrets"
# The settings every S3SettingsForm field maps to, the secret aside (stored as a token).
PLAIN_FIELDS = (
    "bucket",
    "auth_type",
    "access_key_id",
    "iam_role_arn",
    "region",
    "endpoint_url",
    "source_path",
    "success_path",
    "failed_path",
)


class S3SettingsInline(admin.StackedInline):
    model = S3Settings
    can_delete = False
    # The secret is write-only: admin shows whether one is stored, never the value.
    readonly_fields = ["external_id", "secret_stored"]
    fields = [
        "bucket",
        "auth_type",
        "access_key_id",
        "secret_stored",
        "iam_role_arn",
        "external_id",
        "region",
        "endpoint_url",
        "source_path",
        "success_path",
        "failed_path",
    ]

    @admin.display(description="Access Key Secret")
    def secret_stored(self, obj: S3Settings) -> str:
        return "•••••••• (stored, encrypted)" if obj.has_secret else "(none)"


def settings_values(s3: S3Settings) -> dict[str, Any]:
    """The stored settings as S3SettingsForm's cleaned data has them (the secret a token)."""
    values: dict[str, Any] = {name: getattr(s3, name) for name in PLAIN_FIELDS}
    values[SECRET_FIELD] = s3.access_key_secret_encrypted
    return values


@sensitive_variables()
def _params_from(values: Mapping[str, Any], external_id: str, session: str) -> S3Params:
    """The settings as a client needs them, the secret decrypted; S3AccessError if it cannot
    be (LOADBAY_ENCRYPTION_KEY changed without rotate_secrets)."""
    token = values.get(SECRET_FIELD) or ""
    try:
        secret = crypto.decrypt(token) if token else ""
    except crypto.SecretUnreadable as exc:
        raise S3AccessError(
            f"The stored Access Key Secret is unreadable ({exc}); enter it again in the "
            "connector's settings.",
            code="SecretUnreadable",
        ) from None
    return S3Params(
        bucket=values["bucket"],
        auth_type=values["auth_type"],
        access_key_id=values.get("access_key_id", ""),
        access_key_secret=secret,
        iam_role_arn=values.get("iam_role_arn", ""),
        external_id=external_id,
        region=values.get("region", ""),
        endpoint_url=values.get("endpoint_url", ""),
        source_path=values.get("source_path", ""),
        success_path=values.get("success_path", ""),
        failed_path=values.get("failed_path", ""),
        session_name=session,
    )


def params_for_connector(connector: Connector) -> S3Params:
    s3 = connector.s3
    return _params_from(settings_values(s3), s3.external_id, f"loadbay-connector-{connector.pk}")


def file_handling(values: Mapping[str, Any]) -> tuple[str, str]:
    """The spec's rules, in words, for the chosen directories."""
    success, failed = values.get("success_path"), values.get("failed_path")
    on_success = f"moved to {success}" if success else "deleted from the source directory"
    on_failure = f"moved to {failed}" if failed else "kept in the source directory"
    return on_success, on_failure


def _saved_settings(connector: Connector | None) -> S3Settings | None:
    """The connector's S3 settings; None for a new connector or one of another source."""
    if connector is None or connector.pk is None:
        return None
    try:
        return connector.s3
    except S3Settings.DoesNotExist:
        return None


class S3Source(Source):
    key = "s3"
    label = "S3"
    settings_form = S3SettingsForm
    settings_template = "wizard/step_source_settings_s3.html"
    secret_fields = (SECRET_FIELD,)
    admin_inline = S3SettingsInline
    settings_model = S3Settings

    def settings_form_kwargs(
        self, *, connector: Connector | None, external_id: str, held_secrets: Mapping[str, str]
    ) -> dict[str, Any]:
        saved = _saved_settings(connector)
        stored = saved.access_key_secret_encrypted if saved else ""
        return {
            "stored_secret": held_secrets.get(SECRET_FIELD) or stored,
            "external_id": external_id,
        }

    def external_id(self, connector: Connector | None) -> str:
        saved = _saved_settings(connector)
        return saved.external_id if saved else new_external_id()

    def initial_from(self, connector: Connector) -> dict[str, Any]:
        values = settings_values(connector.s3)
        values.pop(SECRET_FIELD)
        return values

    def save(self, connector: Connector, cleaned: Mapping[str, Any], *, external_id: str) -> None:
        # Saved once, so a new connector's history has its settings created, not created
        # and then changed.
        s3 = S3Settings.objects.filter(connector=connector).first() or S3Settings(
            connector=connector, external_id=external_id or new_external_id()
        )
        for name in PLAIN_FIELDS:
            setattr(s3, name, cleaned.get(name, ""))
        s3.access_key_secret_encrypted = cleaned.get(SECRET_FIELD) or ""
        s3.save()

    def summary(self, cleaned: Mapping[str, Any], *, external_id: str) -> SummaryRows:
        on_success, on_failure = file_handling(cleaned)
        rows = [
            ("Bucket", cleaned.get("bucket", "")),
            ("Authentication Type", dict(AuthType.choices).get(cleaned.get("auth_type", ""), "")),
        ]
        if cleaned.get("auth_type") == AuthType.ACCESS_KEY:
            rows += [
                ("Access Key ID", cleaned.get("access_key_id", "")),
                ("Access Key Secret", SECRET_MASK if cleaned.get(SECRET_FIELD) else ""),
            ]
        else:
            rows += [("IAM ARN", cleaned.get("iam_role_arn", "")), ("External ID", external_id)]
        rows += [
            ("Region", cleaned.get("region") or f"(default: {settings.AWS_DEFAULT_REGION})"),
            ("S3 Endpoint URL", cleaned.get("endpoint_url") or "(AWS S3)"),
            ("Source Files Directory Path", cleaned.get("source_path") or "(bucket root)"),
            ("Successful Files Directory Path", cleaned.get("success_path") or "(blank)"),
            ("Failed Files Directory Path", cleaned.get("failed_path") or "(blank)"),
            ("Successful files are", on_success),
            ("Failed files are", on_failure),
        ]
        return rows

    def saved_summary(self, connector: Connector) -> SummaryRows:
        return self.summary(settings_values(connector.s3), external_id=connector.s3.external_id)

    def rotate_secrets(self) -> int:
        count = 0
        with transaction.atomic():
            stored = S3Settings.objects.select_for_update().exclude(access_key_secret_encrypted="")
            for s3 in stored:
                s3.access_key_secret_encrypted = crypto.rotate(s3.access_key_secret_encrypted)
                s3.save(update_fields=["access_key_secret_encrypted"])
                update_change_reason(s3, ROTATED)
                count += 1
        return count

    @sensitive_variables()
    def test_settings(self, cleaned: Mapping[str, Any], *, external_id: str) -> list[Check]:
        try:
            params = _params_from(cleaned, external_id, "loadbay-connection-test")
        except S3AccessError as exc:
            return setup_failed(exc)
        return run_checks(params)

    @sensitive_variables()
    def test_connector(self, connector: Connector) -> list[Check]:
        try:
            params = params_for_connector(connector)
        except S3AccessError as exc:
            return setup_failed(exc)
        return run_checks(params)

    @sensitive_variables()
    def settings_client(self, cleaned: Mapping[str, Any], *, external_id: str) -> S3Client:
        """Built as Test connection's is (the secret decrypted only here, in memory), and
        shared for S3_CLIENT_MAX_AGE like a run's: a page that reads a sample again does not
        assume the role again."""
        return shared_s3_client(_params_from(cleaned, external_id, "loadbay-wizard-sample"))

    def settings_directories(self, cleaned: Mapping[str, Any]) -> SourceDirectories:
        return SourceDirectories(
            bucket=cleaned["bucket"],
            source=cleaned.get("source_path", ""),
            success=cleaned.get("success_path", ""),
            failed=cleaned.get("failed_path", ""),
        )

    @sensitive_variables()
    def client(self, connector: Connector) -> S3Client:
        return shared_s3_client(params_for_connector(connector))

    def directories(self, connector: Connector) -> SourceDirectories:
        s3 = connector.s3
        return SourceDirectories(
            bucket=s3.bucket, source=s3.source_path, success=s3.success_path, failed=s3.failed_path
        )
