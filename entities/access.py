"""Who may write records into an entity type, and who may also delete them: the one place
that answers it (the wizard, connectors.services and ingest runs ask here).

Rights come from EntityAccess rows given to a user or to one of the user's groups, the
highest level winning; superusers have every right. Like Django's own permissions, an inactive
account has none, so deactivating a user stops the connectors that write as them.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin
from django.db.models import Max, Q, QuerySet

from entities.models import EntityAccess, EntityRight, EntityType

User = AbstractBaseUser | AnonymousUser


def _account(user: User) -> PermissionsMixin | None:
    """The active account behind `user` (one with groups and a superuser flag), or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    account = user
    return account if isinstance(account, PermissionsMixin) else None


def _grants(account: PermissionsMixin) -> Q:
    return Q(user=account) | Q(group__in=account.groups.all())


def level_for(user: User, entity_type: EntityType) -> int:
    """The user's right on the entity type: 0 (none), EntityRight.WRITE or EntityRight.DELETE."""
    account = _account(user)
    if account is None:
        return 0
    if account.is_superuser:
        return EntityRight.DELETE
    best = EntityAccess.objects.filter(_grants(account), entity_type=entity_type).aggregate(
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
    account = _account(user)
    if account is None:
        return EntityType.objects.none()
    if account.is_superuser:
        return EntityType.objects.all()
    granted = EntityAccess.objects.filter(_grants(account)).values("entity_type")
    return EntityType.objects.filter(pk__in=granted)
