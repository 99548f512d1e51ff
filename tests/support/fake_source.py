"""A second entity source, for tests: a folder and a password kept in memory. It implements
the Source interface and nothing else, so a test that walks it through the wizard, the
connector pages and admin shows that they need no more than that interface."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from connectors import crypto
from connectors.checks import Check
from connectors.models import Connector
from connectors.sources.base import Source, SourceDirectories, SummaryRows

TEMPLATES = Path(__file__).parent / "templates"


class FakeSettingsForm(forms.Form):
    folder = forms.CharField(label="Folder")
    password = forms.CharField(label="Password", required=False, widget=forms.PasswordInput)

    def __init__(self, *args: Any, held: str = "", external_id: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held = held
        self.external_id = external_id

    def clean_password(self) -> str:
        typed: str = self.cleaned_data["password"]
        if not typed:
            if not self.held:
                raise ValidationError("Enter the password.")
            return self.held
        return typed if crypto.is_token(typed) else crypto.encrypt(typed)


class FakeSource(Source):
    key = "fake"
    label = "Fake folder"
    settings_form = FakeSettingsForm
    settings_template = "fake_source_settings.html"
    secret_fields = ("password",)

    def __init__(self) -> None:
        self.saved: dict[int, dict[str, str]] = {}
        self.tested: list[dict[str, Any]] = []
        self.new_ids = 0

    def settings_form_kwargs(
        self, *, connector: Connector | None, external_id: str, held_secrets: Mapping[str, str]
    ) -> dict[str, Any]:
        stored = self.saved.get(connector.pk, {}) if connector else {}
        held = held_secrets.get("password") or stored.get("password", "")
        return {"held": held, "external_id": external_id}

    def external_id(self, connector: Connector | None) -> str:
        if connector is not None and connector.pk in self.saved:
            return self.saved[connector.pk]["external_id"]
        self.new_ids += 1
        return f"fake-{self.new_ids}"

    def initial_from(self, connector: Connector) -> dict[str, Any]:
        return {"folder": self.saved[connector.pk]["folder"]}

    def save(self, connector: Connector, cleaned: Mapping[str, Any], *, external_id: str) -> None:
        kept = self.saved.get(connector.pk, {}).get("external_id", external_id)
        self.saved[connector.pk] = {
            "folder": cleaned["folder"],
            "password": cleaned["password"],
            "external_id": kept,
        }

    def summary(self, cleaned: Mapping[str, Any], *, external_id: str) -> SummaryRows:
        masked = "••••••••" if cleaned.get("password") else ""
        return [
            ("Folder", cleaned.get("folder", "")),
            ("Password", masked),
            ("Fake ID", external_id),
        ]

    def saved_summary(self, connector: Connector) -> SummaryRows:
        saved = self.saved[connector.pk]
        return self.summary(saved, external_id=saved["external_id"])

    def rotate_secrets(self) -> int:
        for saved in self.saved.values():
            saved["password"] = crypto.rotate(saved["password"])
        return len(self.saved)

    def test_settings(self, cleaned: Mapping[str, Any], *, external_id: str) -> list[Check]:
        self.tested.append({**cleaned, "external_id": external_id})
        return [Check(name="Open the fake folder", ok=True, detail=f"Opened {cleaned['folder']}.")]

    def test_connector(self, connector: Connector) -> list[Check]:
        saved = self.saved[connector.pk]
        return self.test_settings(saved, external_id=saved["external_id"])

    def client(self, connector: Connector) -> Any:
        raise NotImplementedError("runs are not part of these tests")

    def directories(self, connector: Connector) -> SourceDirectories:
        folder = self.saved[connector.pk]["folder"]
        return SourceDirectories(bucket="fake", source=folder, success="", failed="")
