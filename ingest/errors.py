"""The errors that stop a file's or a batch's work and pass up to whoever retries it, instead
of becoming a file's outcome.

A file's outcome, failed or not, is a value (FileOutcome), recorded in the ledger. These stay
exceptions because each one ends work in the middle, where only unwinding is right:
FileChanged is met while a file is read, possibly deep inside the writer's loop over its rows,
and must leave the file's transaction (undoing whatever it wrote); TransientIngestError is an
outage met anywhere in a batch, which the Celery task retries (README, "Retries") or, on its
last try, the batch answers by giving its files back.
"""

from django.db import InterfaceError, OperationalError


class TransientIngestError(Exception):
    """A failure worth retrying later (S3 throttling or outage, database hiccup)."""


class FilesNotMoved(TransientIngestError):
    """Some files of a batch are not moved yet; the move task tries them again."""


class FileChanged(Exception):
    """The object changed or vanished after it was listed; its new version comes next run."""


# What the catch-alls pass on: transient S3 and database errors (the tasks retry them; a run
# in this process gives the files back) and a file changed since it was listed.
FOR_CALLERS = (TransientIngestError, FileChanged, OperationalError, InterfaceError)
