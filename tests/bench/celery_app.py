"""The Celery app for the peer benchmark: one no-op task on the Redis at
BENCH_REDIS_URL, acknowledged late (after it ran: Celery's reliable mode),
with results stored in the same Redis."""

import os
import time

from celery import Celery

url = os.environ["BENCH_REDIS_URL"]
app = Celery("bench", broker=url, backend=url)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=16,
    result_expires=3600,
    broker_connection_retry_on_startup=True,
)


@app.task(name="noop")
def noop(enqueued_at=None):
    """Returns how long the job waited to start, in milliseconds."""
    if enqueued_at is None:
        return None
    return (time.time() - enqueued_at) * 1000
