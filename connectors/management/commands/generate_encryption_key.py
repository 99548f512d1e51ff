from django.core.management.base import BaseCommand

from connectors.crypto import generate_key


class Command(BaseCommand):
    help = "Print a new LOADBAY_ENCRYPTION_KEY value."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(generate_key())
