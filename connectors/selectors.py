"""Who may see and do what with a connector. Anything a user may not see is a 404."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Max, Q, QuerySet
from django.http import Http404

from connectors.models import AccessLevel, Connector

User = AbstractBaseUser | AnonymousUser


def visible_connectors(user: User) -> QuerySet[Connector]:
    if not user.is_authenticated:
        return Connector.objects.none()
    shared = Q(shares__group__in=user.groups.all())  # type: ignore[union-attr]
    return Connector.objects.filter(Q(owner=user) | shared).distinct()


def access_level(user: User, connector: Connector) -> int:
    if not user.is_authenticated:
        return 0
    if connector.owner_id == user.pk:
        return AccessLevel.FULL
    best = connector.shares.filter(group__in=user.groups.all()).aggregate(best=Max("access"))  # type: ignore[union-attr]
    return best["best"] or 0


def get_connector_for(user: User, pk: int, *, needs: int = AccessLevel.VIEW) -> Connector:
    """The connector if `user` has at least `needs` access to it; otherwise 404."""
    connector = Connector.objects.select_related("entity_type", "owner", "s3").filter(pk=pk).first()
    if connector is None or access_level(user, connector) < needs:
        raise Http404("No such connector")
    return connector
