// BullMQ's side of the peer benchmark (`cargo xtask bench`); prints one JSON line.
//
// Usage: node bullmq_bench.mjs <redis-url> <jobs>
// Worker: one Node process with BENCH_CONCURRENCY (default 64) concurrent jobs,
// a no-op processor; BullMQ moves a job to completed (with its return value)
// under a lock, its reliable mode.
import { Queue, Worker, QueueEvents } from "bullmq";

const [url, jobsArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const u = new URL(url);
const connection = { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
const queue = new Queue("bench", { connection });
const opts = { removeOnComplete: false, removeOnFail: false };

const singleN = Math.max(Math.floor(jobs / 10), 1);
let t = performance.now();
for (let i = 0; i < singleN; i++) await queue.add("noop", {}, opts);
const single = singleN / ((performance.now() - t) / 1000);

t = performance.now();
for (let left = jobs; left > 0; left -= 1000) {
  const n = Math.min(left, 1000);
  await queue.addBulk(Array.from({ length: n }, () => ({ name: "noop", data: {}, opts })));
}
const bulk = jobs / ((performance.now() - t) / 1000);

const total = singleN + jobs;
let done = 0;
let finish;
const allDone = new Promise((r) => (finish = r));
t = performance.now();
const worker = new Worker("bench", async () => null, { connection, concurrency });
worker.on("completed", () => {
  done += 1;
  if (done === total) finish();
});
await allDone;
const drain = total / ((performance.now() - t) / 1000);
let rss = process.resourceUsage().maxRSS / 1024;

const latencyN = Math.min(Math.max(Math.floor(jobs / 10), 1), 5000);
const added = [];
const start = performance.now();
let target = total + latencyN;
const latencyDone = new Promise((r) => (finish = r));
if (done >= target) finish();
worker.removeAllListeners("completed");
worker.on("completed", () => {
  done += 1;
  if (done === target) finish();
});
for (let i = 0; i < latencyN; i++) {
  const wait = start + i - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  added.push(await queue.add("noop", {}, opts));
}
await latencyDone;
const lat = [];
for (const j of added) {
  const job = await queue.getJob(j.id);
  if (job?.processedOn) lat.push(job.processedOn - job.timestamp);
}
lat.sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(Math.floor(lat.length * p), lat.length - 1)] : null);
rss = Math.max(rss, process.resourceUsage().maxRSS / 1024);
await worker.close();
await queue.close();
console.log(JSON.stringify({
  system: "bullmq",
  mode: "Worker with locks; completed with return value kept",
  settings: `1 Node process (producer and worker), concurrency ${concurrency}, addBulk in chunks of 1000`,
  jobs: total,
  enqueue_single_per_s: Math.round(single),
  enqueue_bulk_per_s: Math.round(bulk),
  drain_per_s: Math.round(drain),
  latency_p50_ms: pct(0.5),
  latency_p99_ms: pct(0.99),
  peak_rss_mb: Math.round(rss * 10) / 10,
}));
process.exit(0);
