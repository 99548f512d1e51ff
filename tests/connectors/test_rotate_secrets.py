"""python manage.py rotate_secrets: every stored secret re-encrypted under the newest key."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from connectors import crypto
from connectors.models import S3Settings
from tests.support.factories import SECRET, make_connector

pytestmark = pytest.mark.django_db


def test_rotation_leaves_every_secret_readable_with_the_new_key_alone(alice, settings) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.LOADBAY_ENCRYPTION_KEYS = [old]
    for name in ("One", "Two"):
        make_connector(alice, bucket="bucket", endpoint="", name=name)
    before = set(S3Settings.objects.values_list("access_key_secret_encrypted", flat=True))

    settings.LOADBAY_ENCRYPTION_KEYS = [new, old]  # the new key first, the old still listed
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "Re-encrypted 2 secret(s)." in out.getvalue()

    settings.LOADBAY_ENCRYPTION_KEYS = [new]  # the old key retired
    rotated = list(S3Settings.objects.all())
    assert len(rotated) == 2
    for s3 in rotated:
        assert s3.access_key_secret_encrypted not in before
        assert s3.access_key_secret() == SECRET
    settings.LOADBAY_ENCRYPTION_KEYS = [old]  # what was rotated away cannot read them
    with pytest.raises(crypto.SecretUnreadable):
        rotated[0].access_key_secret()
