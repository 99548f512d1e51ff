"""The Share Settings step's form: which access (none, view, edit or full) each group of users
has to the connector; its owner's full access is implicit."""

from typing import Any

from django import forms
from django.contrib.auth.models import Group

from connectors.models import AccessLevel, Connector

GROUP_PREFIX = "group_"
NO_ACCESS = "No access"


def group_field_name(group: Group) -> str:
    return f"{GROUP_PREFIX}{group.pk}"


class ShareSettingsForm(forms.Form):
    """An access select per group there is (groups an administrator creates in admin), in
    name order; cleaned_data["shares"] maps each group given access to its AccessLevel."""

    def __init__(self, *args: Any, owner: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.groups = list(Group.objects.order_by("name"))
        for group in self.groups:
            self.fields[group_field_name(group)] = forms.TypedChoiceField(
                label=group.name,
                choices=[("", NO_ACCESS), *AccessLevel.choices],
                coerce=int,
                empty_value=None,
                required=False,
            )

    def group_fields(self) -> list[forms.BoundField]:
        return [self[group_field_name(group)] for group in self.groups]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        cleaned["shares"] = {
            group: AccessLevel(cleaned[group_field_name(group)])
            for group in self.groups
            if cleaned.get(group_field_name(group))
        }
        return cleaned


def share_initial(connector: Connector) -> dict[str, Any]:
    """The form's initial values for editing `connector`: its shares as they are."""
    return {f"{GROUP_PREFIX}{share.group_id}": share.access for share in connector.shares.all()}
