"""Who may see and do what with a connector (anything a user may not see is a 404), who may
share it, and whether its owner's access to its entity lets it be saved and run."""

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as Account
from django.db.models import Max, Q, QuerySet
from django.http import Http404

from connectors.models import (
    DELETING_INTEGRATION_TYPES,
    AccessLevel,
    Connector,
    ConnectorShare,
    IntegrationType,
)
from entities.access import may_delete, may_write
from entities.models import EntityType

User = Account | AnonymousUser


def visible_connectors(user: User) -> QuerySet[Connector]:
    if not user.is_authenticated:
        return Connector.objects.none()
    shared = Q(shares__group__in=user.groups.all())
    return Connector.objects.filter(Q(owner=user) | shared).distinct()


def access_level(user: User, connector: Connector) -> int:
    if not user.is_authenticated:
        return 0
    if connector.owner_id == user.pk:
        return AccessLevel.FULL
    best = connector.shares.filter(group__in=user.groups.all()).aggregate(best=Max("access"))
    return int(best["best"] or 0)


def get_connector_for(user: User, pk: int, *, needs: int = AccessLevel.VIEW) -> Connector:
    """The connector if `user` has at least `needs` access to it; otherwise 404."""
    connector = Connector.objects.select_related("entity_type", "owner").filter(pk=pk).first()
    if connector is None or access_level(user, connector) < needs:
        raise Http404("No such connector")
    return connector


def may_change_shares(user: User, connector: Connector | None) -> bool:
    """Whether `user` may say who `connector` is shared with: its owner and users with full
    access may; anyone may for a new connector (None), which they will own."""
    return connector is None or access_level(user, connector) >= AccessLevel.FULL


def shares_of(connector: Connector) -> list[ConnectorShare]:
    """The connector's shares, by group name, each with its group."""
    return list(connector.shares.select_related("group").order_by("group__name"))


def entity_access_refusal(
    *,
    owner: User,
    entity_type: EntityType,
    integration_type: str | None = None,
    actor: User | None = None,
) -> str | None:
    """Why a connector of `integration_type` (None: writing only) into `entity_type` may not be
    saved by `actor` for `owner`, or, without an actor, run for `owner`; None if it may. Runs
    act for the owner, so an editor sharing the connector needs the access too: an editor may
    neither use access they lack nor save a connector its owner could not run."""
    if actor is not None and actor.pk != owner.pk:
        lacks = _missing_access(actor, entity_type, integration_type)
        if lacks is not None:
            return f"You {lacks}"
    lacks = _missing_access(owner, entity_type, integration_type)
    if lacks is None:
        return None
    if actor is not None and actor.pk == owner.pk:
        return f"You {lacks}"
    return f"{owner}, who owns this connector and whose access its runs use, {lacks}"


def run_refusal(connector: Connector) -> str | None:
    """Why the connector may not run now (its owner lacks access to its entity), or None."""
    return entity_access_refusal(
        owner=connector.owner,
        entity_type=connector.entity_type,
        integration_type=connector.integration_type,
    )


def _missing_access(
    user: User, entity_type: EntityType, integration_type: str | None
) -> str | None:
    where = f"(Django admin: Entity types → {entity_type.name} → Access)."
    if not may_write(user, entity_type):
        return f"may not write into {entity_type.name}. An administrator gives access {where}"
    if integration_type in DELETING_INTEGRATION_TYPES and not may_delete(user, entity_type):
        label = IntegrationType(integration_type).label
        return (
            f"may not delete {entity_type.name} records, which Integration Type {label} does: "
            f"choose another Integration Type, or ask an administrator for delete access {where}"
        )
    return None
