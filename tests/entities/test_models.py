"""Entity types and their records: access is given to a user or to a group, one of them; and
deleting an entity type waits for a file being written into it, then deletes its records too
(records have no foreign key constraint)."""

import io

import pytest
from django.db import IntegrityError, connection, transaction

from entities.models import EntityAccess, EntityField, EntityType, Record
from ingest.parsers import iter_rows
from ingest.writing import write_file
from tests.support.ingest_configs import config_for


def test_access_is_given_to_a_user_or_a_group_never_both_nor_neither(alice, team, profile) -> None:
    for user, group in [(alice, team), (None, None)]:
        with pytest.raises(IntegrityError), transaction.atomic():
            EntityAccess.objects.create(entity_type=profile, user=user, group=group)


@pytest.mark.usefixtures("csv_reading")  # as it ran among the writer's tests, both ways
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_deleting_an_entity_waits_for_a_file_being_written_then_deletes_its_records() -> None:
    """Records have no foreign key constraint; the writer's lock on the entity type and the lock
    deletion takes first keep every record pointing at an entity type that exists."""
    import threading

    from django.db import connections

    entity = EntityType.objects.create(name="Doomed", category="custom")
    EntityField.objects.create(entity_type=entity, name="code", is_unique_identifier=True)
    config = config_for(entity)
    written, finish, deleted = threading.Event(), threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with transaction.atomic():
                rows = iter_rows(io.BytesIO(b"code\nc1\nc2\nc3\n"), file_format="csv")
                assert write_file(rows, config).created == 3
                written.set()
                finish.wait(30)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            written.set()
        finally:
            connections.close_all()

    def delete() -> None:
        try:
            EntityType.objects.filter(pk=entity.pk).delete()
            deleted.set()
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    assert written.wait(30) and not failures
    deleter = threading.Thread(target=delete)
    deleter.start()
    waiting = wait_for_a_lock_wait()
    blocked = not deleted.is_set()
    finish.set()
    writer.join(30)
    deleter.join(30)
    assert not failures, failures
    assert waiting and blocked, "the deletion must wait for the file being written"
    assert not EntityType.objects.filter(pk=entity.pk).exists()
    assert not Record.objects.filter(entity_type_id=entity.pk).exists()  # nothing orphaned


def wait_for_a_lock_wait(timeout: float = 30) -> bool:
    """Whether some other backend comes to wait for a lock within `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False
