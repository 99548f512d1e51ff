"""The wizard's upload handler: an uploaded file is kept only as its first WIZARD_SAMPLE_BYTES,
in memory (never a temporary file on disk), and says how large the whole upload was."""

from typing import Any

from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.test import RequestFactory

from wizard.uploads import SampleHeadUploadHandler

PATTERN = bytes(range(256))


def uploaded(size: int) -> Any:
    body = PATTERN * (size // 256)
    sent = SimpleUploadedFile("big.csv", body, content_type="text/csv")
    request = RequestFactory().post("/connectors/new/", {"sample_file": sent})
    request.upload_handlers = [SampleHeadUploadHandler(request)]
    return request.FILES["sample_file"]


def test_a_large_upload_is_kept_as_its_first_bytes_in_memory(settings: Any) -> None:
    settings.WIZARD_SAMPLE_BYTES = 4096
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # Django's own handlers would use a file
    kept = uploaded(5 * 1024**2)
    assert isinstance(kept, InMemoryUploadedFile)
    assert kept.size == 5 * 1024**2 and kept.name == "big.csv"
    assert kept.read() == PATTERN * 16


def test_a_small_upload_is_kept_whole(settings: Any) -> None:
    settings.WIZARD_SAMPLE_BYTES = 4096
    kept = uploaded(1024)
    assert kept.size == 1024 and kept.read() == PATTERN * 4
