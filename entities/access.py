"""Who may write records into an entity type, and who may also delete them: the one place
that answers it (the wizard, connectors.services and ingest runs ask here).

Rights come from EntityAccess rows given to a user or to one of the user's groups, the
highest level winning; superusers have every right. Like Django's own permissions, an inactive
account has none, so deactivating a user stops the connectors that write as them.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Max, Q, QuerySet

from entities.models import EntityAccess, EntityRight, EntityType

User = AbstractBaseUser | AnonymousUser


def _is_active(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _grants(user: User) -> Q:
    return Q(user=user) | Q(group__in=user.groups.all())  # type: ignore[union-attr]


def level_for(user: User, entity_type: EntityType) -> int:
    """The user's right on the entity type: 0 (none), EntityRight.WRITE or EntityRight.DELETE."""
    if not _is_active(user):
        return 0
    if user.is_superuser:  # type: ignore[union-attr]
        return EntityRight.DELETE
    best = EntityAccess.objects.filter(_grants(user), entity_type=entity_type).aggregate(
        best=Max("level")
    )["best"]
    return best or 0


def may_write(user: User, entity_type: EntityType) -> bool:
    """May ingest into it: Insert, Update, Upsert, Patch."""
    return level_for(user, entity_type) >= EntityRight.WRITE


def may_delete(user: User, entity_type: EntityType) -> bool:
    """May also remove its records: Sync, or anything else that deletes."""
    return level_for(user, entity_type) >= EntityRight.DELETE


def writable_entity_types(user: User) -> QuerySet[EntityType]:
    """The entity types the user may write into."""
    if not _is_active(user):
        return EntityType.objects.none()
    if user.is_superuser:  # type: ignore[union-attr]
        return EntityType.objects.all()
    granted = EntityAccess.objects.filter(_grants(user)).values("entity_type")
    return EntityType.objects.filter(pk__in=granted)
