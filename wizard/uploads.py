"""Uploads to the wizard: a sample file is kept only as its first WIZARD_SAMPLE_BYTES, in
memory, never on disk; the rest of it is read from the request and dropped."""

import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class SampleHeadUploadHandler(FileUploadHandler):
    """Keeps each uploaded file's first WIZARD_SAMPLE_BYTES in memory; the file it gives has
    those bytes, and `size` is the size of the whole upload (so a reader knows it has less)."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.head = io.BytesIO()
        self.limit: int = settings.WIZARD_SAMPLE_BYTES

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        room = self.limit - self.head.tell()
        if room > 0:
            self.head.write(raw_data[:room])
        return None  # no other handler gets the data: nothing else keeps it

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.head.seek(0)
        return InMemoryUploadedFile(
            file=self.head,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
