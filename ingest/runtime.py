"""Set-up for the processes that ingest files: Celery workers and the run_connector command."""

import gc

# Collect the youngest objects every 50,000 allocations of containers instead of every 700.
YOUNG_GENERATION_THRESHOLD = 50_000
_tuned = False


def tune_garbage_collector() -> None:
    """Ingesting a large file allocates millions of short-lived lists and objects, and the
    cyclic garbage collector ran after every 700 of them; its fuller passes walked every object
    Django and boto3 load at start-up too: a fifth of the CPU of a 1M-row file (BENCHMARKS.md).
    The objects alive now are frozen (never walked again) and the youngest generation is
    collected less often. Once per process; the memory it may hold back is a few MB."""
    global _tuned
    if _tuned:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 20, 20)
    _tuned = True
