//! What `deckhand bulk` reads before it submits: the records (all checked
//! first), the ids they get, and whether a host offers the job type.

use std::io::BufRead;
use std::time::Duration;

use sha2::Digest;

use deckhand::job::Payload;
use deckhand::queue::Queue;

use super::BulkArgs;

/// Reads and checks every line before anything is submitted. The outer
/// error is an I/O failure; the inner one a record that is not JSON.
pub(super) fn read_records(source: &str) -> anyhow::Result<Result<Vec<Payload>, String>> {
    let reader: Box<dyn BufRead> = if source == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(source)
                .map_err(|e| anyhow::anyhow!("cannot read {source}: {e}"))?,
        ))
    };
    let mut payloads = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| anyhow::anyhow!("{source}: line {}: {e}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        // Parsed once, here: the job carries it (and its hash) from now on.
        match Payload::parse(line) {
            Ok(payload) => payloads.push(payload),
            Err(e) => {
                return Ok(Err(format!("{source} line {}: the payload is {e}", n + 1)));
            }
        }
    }
    Ok(Ok(payloads))
}

/// `bulk-<16 hex of SHA-256 over the job type and every line>-<n>`: the
/// same input gives the same ids; `force` takes a random run key instead.
pub(super) fn job_ids(job_type: &str, payloads: &[Payload], force: bool) -> Vec<String> {
    let key = if force {
        uuid::Uuid::now_v7().simple().to_string()[..16].to_string()
    } else {
        let mut hash = sha2::Sha256::new();
        hash.update(job_type.as_bytes());
        for p in payloads {
            hash.update(b"\n");
            hash.update(p.text().as_bytes());
        }
        hex::encode(hash.finalize())[..16].to_string()
    };
    (0..payloads.len())
        .map(|i| format!("bulk-{key}-{i}"))
        .collect()
}

/// Waits (up to `--host-wait`) for the job type to be known on this queue.
/// Says plainly when no host has ever offered it, and which types exist.
pub(super) async fn wait_for_type(queue: &Queue, args: &BulkArgs) -> anyhow::Result<bool> {
    let deadline = deckhand::queue::deadline_after(Duration::from_secs(args.host_wait));
    let mut told = false;
    loop {
        let types = queue.type_infos().await?;
        match types.iter().find(|t| t.job_type == args.job_type) {
            Some(t) if !t.live => {
                eprintln!("deckhand: warning: {}", Queue::no_live_host(&args.job_type));
                return Ok(true);
            }
            Some(_) => return Ok(true),
            None => {}
        }
        if !told {
            let known: Vec<&str> = types.iter().map(|t| t.job_type.as_str()).collect();
            eprintln!(
                "no host has ever offered job type {:?} on this queue (known types: {}); waiting for a host that runs {} (up to {} s) ...",
                args.job_type,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                },
                args.job_type,
                args.host_wait
            );
            told = true;
        }
        if tokio::time::Instant::now() >= deadline {
            eprintln!(
                "deckhand: no host offers job type {:?}; nothing submitted (check the name with `deckhand hosts`, or start a host with its plugin)",
                args.job_type
            );
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
