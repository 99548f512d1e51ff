"""Process set-up of the processes that ingest: the garbage collector's tuning."""

import subprocess
import sys

PROBE = """
import gc, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
django.setup()
{call}
{call}
print(gc.get_threshold()[0], gc.get_freeze_count() > 1000)
"""


def probe(call: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(call=call)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_it_freezes_what_start_up_loaded_and_collects_young_objects_less_often() -> None:
    call = "from ingest.runtime import tune_garbage_collector; tune_garbage_collector()"
    assert probe(call) == "50000 True"


def test_celery_workers_tune_their_processes() -> None:
    call = (
        "from celery.signals import worker_init, worker_process_init; "
        "import config.celery; worker_init.send(sender=None); worker_process_init.send(sender=None)"
    )
    assert probe(call) == "50000 True"
