-- Submit one job, or return the existing one with that id.
--
-- The content store (job types registered with cache = true): a stored
-- result for (type, content hash) completes the job at once as a cache hit;
-- content already pending or running attaches to that job instead of
-- enqueueing another. A dead or cancelled job does not block its content,
-- unless it died of its own answers (see answer_failed in submit_job.lua).
-- `force` skips both.
--
-- ARGV: prefix, id, type, payload, priority, max_retries, metadata (JSON
--       object), depends_on (JSON array of ids), parent id ('' for none),
--       check_type ('1': refuse a type no host has registered), ttl seconds,
--       content hash ('' for none), force ('1'/'0'), use_store ('1'/'0'),
--       run_after_failure ('1': run once the dependencies finish, however
--       they ended; '0': a dead dependency kills this job), max_children
--       (most children the parent may have; '0': no limit), run_at (Unix
--       ms to run at, '' for now), delay (ms from now to run at, '' for
--       none; a job with dependencies has neither)
-- Keys: P:job:<id>, P:types, P:job:<dep> (read), P:waiting:<dep>, P:ready:<type>,
--       P:scheduled,
--       P:content:<type>:<hash>, P:job:<attached id> (read), P:seq, P:stats,
--       P:job:<parent> (children counters);
--       and, when a dependency already failed, what finish_failed touches.
-- Returns: { 'exists', status } | { 'created', status (pending, waiting,
--        scheduled, or dead when a dependency already failed) } | { 'cached', 'completed' }
--        | { 'attached', existing id, status }
--        | { 'error', 'unknown_type' } | { 'error', 'unknown_dependency', dep }
--        | { 'error', 'self_dependency' } | { 'error', 'too_many_children' }
-- Nothing is written unless the answer is 'created' or 'cached'.

return submit_job({
    id = ARGV[2], job_type = ARGV[3], payload = ARGV[4], priority = ARGV[5],
    max_retries = ARGV[6], metadata = ARGV[7], depends_on = ARGV[8], parent = ARGV[9],
    check_type = ARGV[10], ttl = ARGV[11], content_hash = ARGV[12], force = ARGV[13],
    use_store = ARGV[14], run_after_failure = ARGV[15], max_children = ARGV[16],
    run_at = ARGV[17], delay = ARGV[18],
})
