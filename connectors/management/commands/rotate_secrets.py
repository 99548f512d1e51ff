"""rotate_secrets: re-encrypt every source's stored secrets under the newest key."""

from django.core.management.base import BaseCommand
from django.db import transaction

from connectors.crypto import rotating
from connectors.sources import SOURCES


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the first LOADBAY_ENCRYPTION_KEY."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        count = sum(source.rotate_secrets() for source in SOURCES.values())
        for _, rotated in rotating.send(sender=self.__class__):
            count += rotated if isinstance(rotated, int) else 0
        self.stdout.write(f"Re-encrypted {count} secret(s).")
