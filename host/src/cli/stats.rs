//! `deckhand stats`: the queue's figures as JSON.

use super::{EXIT_OK, QueueArgs};

/// `deckhand stats`: the queue's counters (at the top level), then its jobs
/// by state and each job type's controls: paused, running, cap, rate
/// limit, ready jobs by fairness group; and the LLM bill in micro-units
/// (ever and today, by scope) with the re-asks by job type and model.
pub async fn stats(queue: &QueueArgs) -> anyhow::Result<u8> {
    let queue = queue.connect().await?;
    let (figures, bill) = tokio::try_join!(queue.figures(), queue.bill())?;
    let mut out = serde_json::Map::new();
    // Every counter an operator looks for, zero until it first moves.
    use deckhand::queue::keys::stat;
    for name in [
        stat::SUBMITTED,
        stat::COMPLETED,
        stat::RETRIED,
        stat::DEAD,
        stat::CANCELLED,
        stat::CACHE_HITS,
        stat::THROTTLED,
    ] {
        out.insert(name.to_string(), 0.into());
    }
    for (name, n) in &figures.stats {
        out.insert(name.clone(), (*n).into());
    }
    out.insert(
        "queue".into(),
        serde_json::json!({
            "ready": figures.ready,
            "scheduled": figures.scheduled,
            "suspended": figures.suspended,
            "running": figures.running,
            "dead": figures.dead,
        }),
    );
    let types: serde_json::Map<String, serde_json::Value> = figures
        .job_types
        .iter()
        .map(|(job_type, paused)| {
            let entry = serde_json::json!({
                "paused": paused,
                "running": figures.running_by_type.get(job_type).copied().unwrap_or(0),
                "max_running": figures.caps.get(job_type),
                "rate_limit": figures.rates.get(job_type),
                "ready_groups": figures.ready_groups.get(job_type).cloned().unwrap_or_default(),
            });
            (job_type.clone(), entry)
        })
        .collect();
    out.insert("job_types".into(), types.into());
    out.insert("llm_spend_micros".into(), serde_json::to_value(bill)?);
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(EXIT_OK)
}
