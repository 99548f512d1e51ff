from django.core.management.base import BaseCommand
from django.db import transaction

from connectors import crypto
from connectors.models import S3Settings


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the first LOADBAY_ENCRYPTION_KEY."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        count = 0
        for s3 in S3Settings.objects.select_for_update().exclude(access_key_secret_encrypted=""):
            s3.access_key_secret_encrypted = crypto.rotate(s3.access_key_secret_encrypted)
            s3.save(update_fields=["access_key_secret_encrypted"])
            count += 1
        self.stdout.write(f"Re-encrypted {count} secret(s).")
