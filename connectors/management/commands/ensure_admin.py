"""ensure_admin: create an administrator when there is none (make run), and say how to sign
in."""

import secrets
from argparse import ArgumentParser

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an administrator account if none exists, and say how to sign in."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args: object, **options: str) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                f"Sign in at {options['url']} with your administrator account "
                "(python manage.py changepassword <name> resets a password)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(options["username"], "", password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created administrator {options['username']!r} with password {password}\n"
                f"Sign in at {options['url']} (this password is shown once; change it with "
                f"python manage.py changepassword {options['username']})."
            )
        )
