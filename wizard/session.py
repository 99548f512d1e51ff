"""What the wizard's session holds for its steps, read back for any step: the entity type and
source chosen, the source's external id for this connector, the secrets step 4 holds (as
tokens), who acts and who owns, and the shares the connector is saved with."""

from collections.abc import Mapping

from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.exceptions import PermissionDenied
from formtools.wizard.views import SessionWizardView

from connectors.models import Connector
from connectors.selectors import shares_of
from connectors.sources import DEFAULT_SOURCE, get_source
from connectors.sources.base import Source
from entities.models import EntityType
from wizard.steps import ENTITY, SHARE, SOURCE, SOURCE_SETTINGS


class WizardSession(SessionWizardView):
    """The connector wizard's base: `connector` is the one edited (None: a new one)."""

    connector: Connector | None = None

    def _entity_type(self) -> EntityType | None:
        stored = self.storage.get_step_data(ENTITY)
        if stored is not None:
            entity_id = stored.get(f"{ENTITY}-entity")
            return EntityType.objects.filter(pk=entity_id).first() if entity_id else None
        return self.connector.entity_type if self.connector else None

    def _source(self) -> Source:
        stored = self.storage.get_step_data(SOURCE)
        key = stored.get(f"{SOURCE}-entity_source") if stored else None
        if not key:
            key = self.connector.source_type if self.connector else DEFAULT_SOURCE
        return get_source(key)

    def _external_id(self) -> str:
        """The chosen source's external id for this connector, the same on every step."""
        source = self._source()
        name = f"{source.key}_external_id"
        extra = self.storage.extra_data
        if name not in extra:
            extra[name] = source.external_id(self.connector)
            self.storage.extra_data = extra
        return str(extra[name])

    def _held_secrets(self, source: Source) -> dict[str, str]:
        """The tokens step 4 holds from an earlier visit, by secret field."""
        stored = self.storage.get_step_data(SOURCE_SETTINGS)
        if stored is None:
            return {}
        return {name: stored.get(f"{SOURCE_SETTINGS}-{name}", "") for name in source.secret_fields}

    def _actor(self) -> User:
        """Who uses the wizard (dispatch sends anyone not signed in to sign in first)."""
        user = self.request.user
        if isinstance(user, AnonymousUser):
            raise PermissionDenied("Sign in to set up connectors.")
        return user

    def _owner(self) -> User:
        return self.connector.owner if self.connector else self._actor()

    def _shares(self) -> Mapping[Group, int]:
        """The shares the connector is saved with: as Share Settings holds them, or (editing,
        for users who may not change them) as they are."""
        if SHARE in self.steps.all or self.connector is None:
            cleaned = self.get_cleaned_data_for_step(SHARE) or {}
            shares: Mapping[Group, int] = cleaned.get("shares", {})
            return shares
        return {share.group: share.access for share in shares_of(self.connector)}
