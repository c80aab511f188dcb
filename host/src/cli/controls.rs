//! The operator controls as commands: `pause`, `resume`, `cap` and `rate`
//! a job type on every host at once.

use deckhand::queue::{Queue, RateLimit};

use super::{EXIT_ERROR, EXIT_OK, QueueArgs};

/// The queue, for a command about `job_type`; None (and the reason on
/// stderr) when the name is not a job type name.
async fn for_job_type(queue: &QueueArgs, job_type: &str) -> anyhow::Result<Option<Queue>> {
    if let Err(reason) = deckhand::job::valid_job_type_name(job_type) {
        eprintln!("deckhand: {reason}");
        return Ok(None);
    }
    Ok(Some(queue.connect().await?))
}

/// `deckhand pause` (`pause`) and `deckhand resume`.
pub async fn pause(queue: &QueueArgs, job_type: &str, pause: bool) -> anyhow::Result<u8> {
    let Some(queue) = for_job_type(queue, job_type).await? else {
        return Ok(EXIT_ERROR);
    };
    let (changed, word) = if pause {
        (queue.pause(job_type).await?, "paused")
    } else {
        (queue.resume(job_type).await?, "resumed")
    };
    if changed {
        println!("{job_type}: {word}");
    } else {
        println!(
            "{job_type}: already {}",
            if pause { "paused" } else { "running" }
        );
    }
    Ok(EXIT_OK)
}

/// `deckhand cap`: sets (or, with `None`, lifts) a job type's cap.
pub async fn cap(
    queue: &QueueArgs,
    job_type: &str,
    max_running: Option<u64>,
) -> anyhow::Result<u8> {
    let Some(queue) = for_job_type(queue, job_type).await? else {
        return Ok(EXIT_ERROR);
    };
    queue.set_cap(job_type, max_running).await?;
    match max_running {
        Some(n) => println!("{job_type}: at most {n} running at once across all hosts"),
        None => println!("{job_type}: no cap"),
    }
    Ok(EXIT_OK)
}

/// `deckhand rate`: sets (or, with `None`, lifts) a job type's rate limit.
pub async fn rate(
    queue: &QueueArgs,
    job_type: &str,
    limit: Option<RateLimit>,
) -> anyhow::Result<u8> {
    let Some(queue) = for_job_type(queue, job_type).await? else {
        return Ok(EXIT_ERROR);
    };
    queue.set_rate(job_type, limit).await?;
    match limit {
        Some(limit) => println!("{job_type}: at most {limit} across all hosts"),
        None => println!("{job_type}: no rate limit"),
    }
    Ok(EXIT_OK)
}

/// `deckhand resume TOKEN --value FILE`: hands the JSON in `file` (`-`:
/// standard input) to the job suspended on `token`.
pub async fn resume_wait(
    queue: &QueueArgs,
    token: &str,
    file: &std::path::Path,
) -> anyhow::Result<u8> {
    use deckhand::job::wait::MAX_RESUME_VALUE_LEN;
    use deckhand::queue::{QueueError, Resumed};
    use std::io::Read;
    let limit = MAX_RESUME_VALUE_LEN as u64 + 1;
    let mut value = String::new();
    let read = if file == std::path::Path::new("-") {
        std::io::stdin().take(limit).read_to_string(&mut value)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit).read_to_string(&mut value))
    };
    if let Err(e) = read {
        eprintln!("deckhand: cannot read {}: {e}", file.display());
        return Ok(EXIT_ERROR);
    }
    let queue = queue.connect().await?;
    match queue.resume_wait(token, value.trim()).await {
        Ok(Resumed::Resumed) => {
            println!("resumed");
            Ok(EXIT_OK)
        }
        Ok(Resumed::Ended) => {
            eprintln!("deckhand: that wait has already ended (resumed, ran out or cancelled)");
            Ok(EXIT_ERROR)
        }
        Ok(Resumed::Unknown) => {
            eprintln!("deckhand: no job waits on that token");
            Ok(EXIT_ERROR)
        }
        Err(e @ QueueError::Invalid { .. }) => {
            eprintln!("deckhand: {e}");
            Ok(EXIT_ERROR)
        }
        Err(e) => Err(e.into()),
    }
}
