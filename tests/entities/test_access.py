"""Who may write into an entity type, and who may also delete from it."""

from django.contrib.auth.models import AnonymousUser, User

from entities.access import level_for, may_delete, may_write, writable_entity_types
from entities.models import EntityRight, EntityType
from tests.support.factories import grant


def test_nobody_but_superusers_may_write_into_an_entity_nobody_was_given(charlie, profile) -> None:
    root = User.objects.create_superuser("root", "", "pw-for-tests-only")
    assert not may_write(charlie, profile) and not may_delete(charlie, profile)
    assert may_write(root, profile) and may_delete(root, profile)
    assert list(writable_entity_types(charlie)) == []
    assert set(writable_entity_types(root)) == set(EntityType.objects.all())


def test_write_access_is_not_delete_access(charlie, profile) -> None:
    grant(user=charlie, entity="Profile", level=EntityRight.WRITE)
    assert may_write(charlie, profile) and not may_delete(charlie, profile)
    assert [e.name for e in writable_entity_types(charlie)] == ["Profile"]


def test_a_group_gives_its_members_access_and_the_highest_level_wins(bob, team, profile) -> None:
    grant(user=bob, entity="Profile", level=EntityRight.WRITE)
    grant(group=team, entity="Profile", level=EntityRight.DELETE)
    assert level_for(bob, profile) == EntityRight.DELETE
    assert [e.name for e in writable_entity_types(bob)] == ["Profile"]


def test_an_inactive_account_has_no_access(alice, profile) -> None:
    alice.is_active = False
    alice.save()
    assert not may_write(alice, profile)
    assert list(writable_entity_types(alice)) == []
    root = User.objects.create_superuser("root", "", "pw-for-tests-only", is_active=False)
    assert not may_write(root, profile)


def test_anonymous_users_have_no_access(db, profile) -> None:
    assert level_for(AnonymousUser(), profile) == 0
    assert list(writable_entity_types(AnonymousUser())) == []
