"""The Source interface: everything the wizard, the connector pages, the services, the admin
and the runs ask of an entity source, so that none of them names a particular one.

A new source is one module with a `Source` subclass (its settings form, the model it saves
them in, and the template of its Source Specific Settings step), registered in
connectors.sources.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from connectors import crypto
from connectors.aws import S3Client
from connectors.checks import Check
from connectors.models import Connector

# Label/value pairs, as the Review step and the connector page list them.
SummaryRows = list[tuple[str, str]]


@dataclass(frozen=True)
class SourceDirectories:
    """Where a connector's files are, as a run needs it: the bucket, and the spec's Source,
    Successful and Failed Files Directories (normalised key prefixes; '' is the bucket root
    for the source, and "not set" for the other two)."""

    bucket: str
    source: str
    success: str
    failed: str


class Source(ABC):
    """One kind of place files come from. Secrets: `settings_form` cleans every field named
    in `secret_fields` into an encrypted token (connectors.crypto), never a plain secret, so
    what the wizard keeps between steps and passes to `save` is safe to store."""

    key: ClassVar[str]  # stored in Connector.source_type
    label: ClassVar[str]  # the name pages show
    settings_form: ClassVar[type[forms.Form]]
    settings_template: ClassVar[str]  # renders settings_form as the wizard's step 4
    secret_fields: ClassVar[tuple[str, ...]] = ()
    admin_inline: ClassVar[type[InlineModelAdmin] | None] = None  # its settings in admin
    # The model its settings are saved in (a `connector` foreign key), whose change history
    # the connector page shows (connectors.history). Its history excludes each secret's stored
    # form and keeps `<secret field>_changed_at` instead, which the page shows as "changed".
    settings_model: ClassVar[type[models.Model] | None] = None

    # --- the wizard's Source Specific Settings step ---------------------------------------

    @abstractmethod
    def settings_form_kwargs(
        self, *, connector: Connector | None, external_id: str, held_secrets: Mapping[str, str]
    ) -> dict[str, Any]:
        """settings_form's keyword arguments besides data, prefix and initial, for editing
        `connector` (None: a new one). `held_secrets` are the tokens typed earlier in this
        wizard, by secret field; a secret field left blank keeps that token, or else the one
        stored for `connector`."""

    def external_id(self, connector: Connector | None) -> str:
        """The per-connector value the source's settings are saved with (the S3 source's IAM
        trust policy names it): the one stored for `connector`, else a new one. '' for a
        source that needs none."""
        return ""

    @abstractmethod
    def initial_from(self, connector: Connector) -> dict[str, Any]:
        """settings_form's initial values for editing `connector`, without its secrets."""

    def secret_tokens(self, form: forms.Form) -> dict[str, str]:
        """Each secret field's value as it may be kept between steps: the encrypted token
        the form cleaned it into, or '' while the form is not valid."""
        valid = form.is_valid()
        tokens = {
            name: form.cleaned_data.get(name, "") if valid else "" for name in self.secret_fields
        }
        for name, token in tokens.items():
            if token and not crypto.is_token(token):
                raise ImproperlyConfigured(
                    f"{type(form).__name__} must clean {name} into an encrypted token."
                )
        return tokens

    # --- the wizard's Field Mapping step: a sample of the files, before Save ----------------

    def settings_client(self, cleaned: Mapping[str, Any], *, external_id: str) -> S3Client | None:
        """An S3 client built from settings the wizard holds (settings_form's cleaned data:
        the secret a token, decrypted only in memory), to read a sample of the files before
        anything is saved; None for a source that cannot give one (the wizard then takes an
        uploaded file). Raises connectors.aws.S3AccessError, saying why, when none can be
        built from the settings."""
        return None

    def settings_directories(self, cleaned: Mapping[str, Any]) -> SourceDirectories | None:
        """Where the files are by settings the wizard holds; None when settings_client is."""
        return None

    # --- saved settings ---------------------------------------------------------------------

    @abstractmethod
    def save(self, connector: Connector, cleaned: Mapping[str, Any], *, external_id: str) -> None:
        """Store settings_form's cleaned data for `connector`; `external_id` is used when
        the connector's settings are first saved and kept after that."""

    @abstractmethod
    def summary(self, cleaned: Mapping[str, Any], *, external_id: str) -> SummaryRows:
        """settings_form's cleaned data for the Review step, secrets masked."""

    @abstractmethod
    def saved_summary(self, connector: Connector) -> SummaryRows:
        """The connector's saved settings for its page, secrets masked."""

    @abstractmethod
    def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret of this source under the newest key; how many."""

    # --- Test connection ------------------------------------------------------------------

    @abstractmethod
    def test_settings(self, cleaned: Mapping[str, Any], *, external_id: str) -> list[Check]:
        """Test connection on settings the wizard holds (cleaned data), saving nothing."""

    @abstractmethod
    def test_connector(self, connector: Connector) -> list[Check]:
        """Test connection on a saved connector's settings."""

    # --- runs -------------------------------------------------------------------------------

    @abstractmethod
    def client(self, connector: Connector) -> S3Client:
        """The S3 client a run of `connector` reads and moves its files with (shared by the
        threads of this process; see connectors.aws.shared_s3_client). Raises
        connectors.aws.S3AccessError, saying why, when none can be built from the settings."""

    @abstractmethod
    def directories(self, connector: Connector) -> SourceDirectories:
        """Where the connector's files are, and where they go after processing."""
