// BullMQ's side of the follow scenario (`cargo xtask bench --scale`), as a
// user of `deckhand bulk` meets it: a client submits N jobs and follows
// every one to its result through QueueEvents (its own connection), while a
// worker in another Node process drains them. Prints one JSON line.
//
// Usage: node bullmq_follow.mjs <redis-url> <jobs>          the client (starts the worker)
//        node bullmq_follow.mjs <redis-url> <jobs> worker   the worker
// The worker: concurrency BENCH_CONCURRENCY (default 64), a processor that
// returns the job's data (as echo.wasm does). The client: addBulk in chunks
// of 100, 4 in flight (as `deckhand bulk` submits), each result kept.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Queue, Worker, QueueEvents } from "bullmq";
import IORedis from "ioredis";

const [url, jobsArg, role] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const u = new URL(url);
const connection = { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
const NAME = "follow";

if (role === "worker") {
  const worker = new Worker(NAME, async (job) => job.data, { connection, concurrency });
  await worker.waitUntilReady();
  console.log("ready");
  process.on("SIGTERM", async () => {
    await worker.close();
    process.exit(0);
  });
} else {
  await client();
}

/// Redis' CPU seconds (user + sys) and EVALSHA/EVAL usec so far.
async function redisCosts(redis) {
  const cpu = await redis.info("cpu");
  const stats = await redis.info("commandstats");
  const field = (text, name) => Number((text.match(new RegExp(`${name}:([0-9.]+)`)) ?? [0, 0])[1]);
  const usec = ["evalsha", "eval", "fcall"]
    .map((c) => Number((stats.match(new RegExp(`cmdstat_${c}:calls=\\d+,usec=(\\d+)`)) ?? [0, 0])[1]))
    .reduce((a, b) => a + b, 0);
  return { cpu: field(cpu, "used_cpu_user") + field(cpu, "used_cpu_sys"), usec };
}

async function client() {
  // Events kept for every job, so a follower that falls behind misses none.
  const queue = new Queue(NAME, { connection, streams: { events: { maxLen: jobs * 4 } } });
  // Redis' own counters, read on a connection of their own.
  const redis = new IORedis(url);
  const worker = spawn(process.execPath, [process.argv[1], url, jobsArg, "worker"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: process.env,
  });
  const ready = createInterface({ input: worker.stdout });
  await new Promise((resolve) => ready.once("line", resolve));
  const events = new QueueEvents(NAME, { connection });
  await events.waitUntilReady();

  const results = new Map();
  let finish;
  const allDone = new Promise((r) => (finish = r));
  events.on("completed", ({ jobId, returnvalue }) => {
    if (!results.has(jobId)) {
      results.set(jobId, returnvalue);
      if (results.size === jobs) finish();
    }
  });

  const before = await redisCosts(redis);
  const started = performance.now();
  const ids = [];
  const chunks = [];
  for (let i = 0; i < jobs; i += 100) chunks.push([i, Math.min(i + 100, jobs)]);
  for (let c = 0; c < chunks.length; c += 4) {
    const added = await Promise.all(
      chunks.slice(c, c + 4).map(([from, to]) =>
        queue.addBulk(
          Array.from({ length: to - from }, (_, k) => ({
            name: "noop",
            data: { record: from + k },
            opts: { removeOnComplete: false, removeOnFail: false },
          })),
        ),
      ),
    );
    for (const list of added) for (const job of list) ids.push(job.id);
  }
  await allDone;
  // Every result in input order, as `bulk` writes them.
  const lines = ids.map((id) => JSON.stringify({ id, result: results.get(id) }));
  const seconds = (performance.now() - started) / 1000;
  const after = await redisCosts(redis);
  if (lines.length !== jobs) throw new Error(`followed ${lines.length} of ${jobs}`);

  worker.kill("SIGTERM");
  await events.close();
  await queue.close();
  redis.disconnect();
  console.log(JSON.stringify({
    system: "bullmq",
    mode: "client follows through QueueEvents; worker in its own process",
    settings: `worker: 1 Node process, concurrency ${concurrency}; client: addBulk 100 a call, 4 in flight`,
    jobs,
    follow_per_s: Math.round(jobs / seconds),
    follow_redis_cpu_us_per_job: Math.round(((after.cpu - before.cpu) * 1e6 * 10) / jobs) / 10,
    follow_script_us_per_job: Math.round(((after.usec - before.usec) * 10) / jobs) / 10,
  }));
  process.exit(0);
}
