"""The retry policy of each layer, in one place (README, "Retries" says the same in prose).

- A request to S3 or STS: botocore retries it (standard mode, 5 attempts, exponential backoff
  with jitter), configured where the clients are built, connectors.aws; the error codes that
  count as passing once it gives up are connectors.aws.TRANSIENT_CODES.
- A task: Celery retries it on the named transient errors below (TASK_RETRY), and on nothing
  else; on its last try the services give up instead of raising, so the run still finishes.
- A move: tried by its batch, then by the move task (MOVE_RETRY), MOVE_FIRST_DELAY seconds
  later and once more after a backoff; only the last try records why on the file.
- A file: the next run picks up what was given back; a dead process's run is closed by
  ingest.watchdog.

No code of ours sleeps between tries.
"""

from django.db import InterfaceError, OperationalError

from ingest.errors import TransientIngestError

# FilesNotMoved, which the move task raises to be retried, is a TransientIngestError.
TRANSIENT = (TransientIngestError, OperationalError, InterfaceError)

TASK_RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}

# A move is tried by its batch's task, then by move_files: once MOVE_FIRST_DELAY seconds
# later, and once more after a backoff of up to 2 seconds.
MOVE_RETRY = {**TASK_RETRY, "retry_backoff_max": 60, "max_retries": 1}
MOVE_FIRST_DELAY = 1
