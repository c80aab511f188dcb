"""Celery's side of the peer benchmark (`cargo xtask bench`); prints one JSON line.

Usage: python celery_bench.py <redis-url> <jobs>
Worker: one `celery worker` with BENCH_WORKERS prefork processes (default 4),
late acknowledgement, results in Redis. Celery has no bulk enqueue: `bulk` is
`apply_async` in a loop over one connection, the same as single.
"""

import json
import os
import subprocess
import sys
import time

url, jobs = sys.argv[1], int(sys.argv[2])
os.environ["BENCH_REDIS_URL"] = url
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from celery_app import app, noop  # noqa: E402

workers = int(os.environ.get("BENCH_WORKERS", "4"))


def tree_rss_mb(pid):
    """VmHWM of a process and its children."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return total


single_n = max(jobs // 10, 1)
t = time.time()
results = [noop.apply_async() for _ in range(single_n)]
single = single_n / (time.time() - t)
t = time.time()
results += [noop.apply_async() for _ in range(jobs)]
bulk = jobs / (time.time() - t)

total = single_n + jobs
env = dict(os.environ, PYTHONPATH=here)
t = time.time()
worker = subprocess.Popen(
    [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--concurrency", str(workers),
     "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
    env=env, cwd=here, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
rss = 0.0
for r in results:
    while not r.ready():
        rss = max(rss, tree_rss_mb(worker.pid))
        time.sleep(0.005)
drain = total / (time.time() - t)

latency_n = min(max(jobs // 10, 1), 5000)
pending = []
start = time.time()
for i in range(latency_n):
    due = start + i / 1000.0
    now = time.time()
    if due > now:
        time.sleep(due - now)
    pending.append(noop.apply_async(args=[time.time()]))
lat = sorted(r.get(timeout=300) for r in pending)
rss = max(rss, tree_rss_mb(worker.pid))

# Follow: a client submits a tenth of the jobs while the worker runs and
# waits for each result (AsyncResult.get).
follow_n = max(jobs // 10, 1)
t = time.time()
followed = [noop.apply_async() for _ in range(follow_n)]
follow_results = [r.get(timeout=600) for r in followed]
follow = len(follow_results) / (time.time() - t)
worker.terminate()
worker.wait()


def pct(p):
    return round(lat[min(int(len(lat) * p), len(lat) - 1)], 1) if lat else None


print(json.dumps({
    "system": "celery",
    "mode": "prefork pool, acks_late (acknowledged after the task ran), results in Redis",
    "settings": f"1 worker, {workers} prefork processes, prefetch multiplier 16; no bulk enqueue (apply_async in a loop)",
    "jobs": total,
    "enqueue_single_per_s": round(single),
    "enqueue_bulk_per_s": round(bulk),
    "drain_per_s": round(drain),
    "latency_p50_ms": pct(0.5),
    "latency_p99_ms": pct(0.99),
    "peak_rss_mb": round(rss, 1),
    "follow_per_s": round(follow),
    "follow_jobs": follow_n,
    "follow_mode": "apply_async in a loop, then AsyncResult.get for each",
}))
