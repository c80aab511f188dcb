"""RQ's side of the peer benchmark (`cargo xtask bench`); prints one JSON line.

Usage: python rq_bench.py <redis-url> <jobs>
Workers: BENCH_WORKERS processes of `rq worker` (default 4, two per core), the
default forking Worker: each job runs in a fresh work-horse process and its
result is written before the job is marked finished (RQ's reliable mode).
"""

import json
import os
import subprocess
import sys
import time

from redis import Redis
from rq import Queue
from rq.job import Job

url, jobs = sys.argv[1], int(sys.argv[2])
workers = int(os.environ.get("BENCH_WORKERS", "4"))
here = os.path.dirname(os.path.abspath(__file__))
redis = Redis.from_url(url)
q = Queue("bench", connection=redis)


def peak_rss_mb(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def start_workers(burst):
    args = [sys.executable, "-m", "rq.cli", "worker", "--url", url, "bench", "--quiet"]
    if burst:
        args.append("--burst")
    env = dict(os.environ, PYTHONPATH=here)
    return [subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]


single_n = max(jobs // 10, 1)
t = time.time()
for _ in range(single_n):
    q.enqueue("noop.noop")
single = single_n / (time.time() - t)

t = time.time()
left = jobs
while left > 0:
    n = min(left, 1000)
    q.enqueue_many([Queue.prepare_data("noop.noop") for _ in range(n)])
    left -= n
bulk = jobs / (time.time() - t)

total = single_n + jobs
t = time.time()
procs = start_workers(burst=True)
rss = 0.0
while any(p.poll() is None for p in procs):
    rss = max(rss, peak_rss_mb([p.pid for p in procs]))
    time.sleep(0.05)
drain = total / (time.time() - t)
finished = q.finished_job_registry.count

procs = start_workers(burst=False)
time.sleep(2)
latency_n = min(max(jobs // 10, 1), 5000)
ids = []
start = time.time()
for i in range(latency_n):
    due = start + i / 1000.0
    now = time.time()
    if due > now:
        time.sleep(due - now)
    ids.append(q.enqueue("noop.noop").id)
lat = []
deadline = time.time() + 300
for jid in ids:
    while time.time() < deadline:
        job = Job.fetch(jid, connection=redis)
        if job.get_status() == "finished":
            lat.append((job.started_at - job.enqueued_at).total_seconds() * 1000)
            break
        time.sleep(0.01)
rss = max(rss, peak_rss_mb([p.pid for p in procs]))

# Follow: a client submits a tenth of the jobs (RQ drains slowly) in chunks
# of 100 while the workers run, and polls their status (RQ has no finished
# notification) until every one has finished, reading each result.
follow_n = max(jobs // 10, 1)
t = time.time()
follow_ids = []
for start in range(0, follow_n, 100):
    n = min(100, follow_n - start)
    follow_ids += [j.id for j in q.enqueue_many([Queue.prepare_data("noop.noop") for _ in range(n)])]
results = {}
open_ids = list(follow_ids)
deadline = time.time() + 600
while open_ids and time.time() < deadline:
    still = []
    for start in range(0, len(open_ids), 1000):
        chunk = open_ids[start:start + 1000]
        for jid, job in zip(chunk, Job.fetch_many(chunk, connection=redis)):
            if job is not None and job.get_status() == "finished":
                results[jid] = job.return_value()
            else:
                still.append(jid)
    open_ids = still
    if open_ids:
        time.sleep(0.05)
follow = len(results) / (time.time() - t)

for p in procs:
    p.terminate()
for p in procs:
    p.wait()
lat.sort()


def pct(p):
    return round(lat[min(int(len(lat) * p), len(lat) - 1)], 1) if lat else None


print(json.dumps({
    "system": "rq",
    "mode": "forking Worker (work horse per job), result stored before finished",
    "settings": f"{workers} `rq worker` processes, enqueue_many in chunks of 1000",
    "jobs": total,
    "finished": finished,
    "enqueue_single_per_s": round(single),
    "enqueue_bulk_per_s": round(bulk),
    "drain_per_s": round(drain),
    "latency_p50_ms": pct(0.5),
    "latency_p99_ms": pct(0.99),
    "peak_rss_mb": round(rss, 1),
    "follow_per_s": round(follow),
    "follow_jobs": follow_n,
    "follow_mode": "enqueue_many in chunks of 100, status polled every 50 ms (fetch_many of 1000)",
}))
