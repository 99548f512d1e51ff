"""What every entity source provides to the wizard, the connector pages and the runs."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms

if TYPE_CHECKING:
    from connectors.models import Connector


@dataclass(frozen=True)
class Check:
    """One line of a Test connection result."""

    name: str
    ok: bool
    detail: str
    permission: str = ""
    skipped: bool = False


class Source:
    key: str = ""
    label: str = ""
    settings_form: type[forms.Form]

    def initial_from(self, connector: "Connector") -> dict[str, Any]:
        """The settings form's initial values for editing `connector`."""
        raise NotImplementedError

    def form_kwargs(self, connector: "Connector | None") -> dict[str, Any]:
        """Extra keyword arguments for the settings form."""
        return {}

    def save(self, connector: "Connector", cleaned: dict[str, Any]) -> None:
        """Store the settings form's cleaned data for `connector`."""
        raise NotImplementedError

    def summary(self, cleaned: dict[str, Any]) -> list[tuple[str, str]]:
        """Label/value pairs for review pages, secrets masked."""
        raise NotImplementedError

    def saved_summary(self, connector: "Connector") -> list[tuple[str, str]]:
        raise NotImplementedError

    def test_cleaned(self, cleaned: dict[str, Any], external_id: str) -> list[Check]:
        """Check the settings the wizard holds, without saving anything."""
        raise NotImplementedError

    def test_saved(self, connector: "Connector") -> list[Check]:
        raise NotImplementedError
