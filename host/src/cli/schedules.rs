//! `deckhand schedule`: periodic jobs, listed, added or replaced, removed,
//! or run now.

use clap::Subcommand;
use deckhand::queue::QueueError;
use deckhand::schedule::Schedule;

use super::{EXIT_ERROR, EXIT_OK, QueueArgs};

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Every schedule, its last and next tick.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Add a schedule, or replace the one with that name.
    Add {
        /// 1-128 of A-Z a-z 0-9 . _ - (part of each fired job's id).
        name: String,
        /// Five fields (minute hour day month weekday) or six with seconds
        /// first, e.g. "0 3 * * *" or "*/10 * * * * *"; or @daily, @hourly.
        #[arg(long)]
        cron: String,
        #[arg(long)]
        job_type: String,
        /// The job's payload (JSON).
        #[arg(long, default_value = "{}")]
        payload: String,
        /// IANA time zone the expression is read in (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i32,
        /// The fired jobs' fairness group.
        #[arg(long)]
        group: Option<String>,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Remove a schedule (jobs it fired stay).
    Remove {
        name: String,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Submit a schedule's job now, outside its ticks.
    Run {
        name: String,
        #[command(flatten)]
        queue: QueueArgs,
    },
}

pub async fn schedule(command: ScheduleCommand) -> anyhow::Result<u8> {
    match command {
        ScheduleCommand::List { json, queue } => list(&queue, json).await,
        ScheduleCommand::Add {
            name,
            cron,
            job_type,
            payload,
            timezone,
            priority,
            group,
            queue,
        } => {
            let payload = match serde_json::from_str(&payload) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("deckhand: --payload is not JSON: {e}");
                    return Ok(EXIT_ERROR);
                }
            };
            let schedule = Schedule {
                name,
                cron,
                job_type,
                payload,
                timezone,
                priority,
                group,
            };
            if let Err(e) = schedule.check() {
                eprintln!("deckhand: {e}");
                return Ok(EXIT_ERROR);
            }
            add(&queue, &schedule).await
        }
        ScheduleCommand::Remove { name, queue } => {
            if queue.connect().await?.remove_schedule(&name).await? {
                println!("{name}: removed");
                Ok(EXIT_OK)
            } else {
                eprintln!("deckhand: no schedule named {name:?}");
                Ok(EXIT_ERROR)
            }
        }
        ScheduleCommand::Run { name, queue } => {
            match queue.connect().await?.run_schedule_now(&name).await {
                Ok(Some(submitted)) => {
                    println!("{}", submitted.id);
                    Ok(EXIT_OK)
                }
                Ok(None) => {
                    eprintln!("deckhand: no schedule named {name:?}");
                    Ok(EXIT_ERROR)
                }
                Err(e @ QueueError::Redis(_)) => Err(e.into()),
                Err(e) => {
                    eprintln!("deckhand: {e}");
                    Ok(EXIT_ERROR)
                }
            }
        }
    }
}

/// Adds (or replaces) a checked schedule.
async fn add(queue: &QueueArgs, schedule: &Schedule) -> anyhow::Result<u8> {
    let queue = queue.connect().await?;
    // A schedule of a type no host offers would only warn at every tick.
    if !queue.type_known(&schedule.job_type).await? {
        let unknown = QueueError::UnknownJobType(schedule.job_type.clone());
        eprintln!("deckhand: {unknown}");
        return Ok(EXIT_ERROR);
    }
    match queue.put_schedule(schedule).await {
        Ok(()) => {
            println!(
                "{}: {} ({})",
                schedule.name, schedule.cron, schedule.job_type
            );
            Ok(EXIT_OK)
        }
        Err(e @ QueueError::Redis(_)) => Err(e.into()),
        Err(e) => {
            eprintln!("deckhand: {e}");
            Ok(EXIT_ERROR)
        }
    }
}

async fn list(queue: &QueueArgs, json: bool) -> anyhow::Result<u8> {
    let (now, schedules) = queue.connect().await?.schedules().await?;
    let rows: Vec<serde_json::Value> = schedules
        .into_values()
        .map(|s| {
            let next = s.schedule.check().ok().and_then(|p| p.next_after(now));
            serde_json::json!({ "schedule": s.schedule, "last_tick": s.last_tick, "next_tick": next })
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(EXIT_OK);
    }
    if rows.is_empty() {
        println!("no schedules");
    }
    for row in rows {
        let s = &row["schedule"];
        let next = row["next_tick"].as_u64().map_or("never".to_string(), |t| {
            format!("in {} s", t.saturating_sub(now) / 1000)
        });
        println!(
            "{:<24} {:<20} {:<16} {:<20} next {next}",
            s["name"].as_str().unwrap_or(""),
            s["cron"].as_str().unwrap_or(""),
            s.get("timezone").and_then(|t| t.as_str()).unwrap_or("UTC"),
            s["job_type"].as_str().unwrap_or(""),
        );
    }
    Ok(EXIT_OK)
}
