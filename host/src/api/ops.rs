//! What operators look at: plugins, hosts, job types, `/health`, `/metrics`.

use super::*;

pub(super) async fn plugins(State(state): State<Arc<ApiState>>) -> ApiResult {
    let registry = state.worker.registry();
    let snapshot = registry.snapshot();
    let plugins: Vec<Value> = snapshot
        .plugins()
        .map(|p| {
            let types: Vec<Value> = p
                .info
                .job_types
                .iter()
                .map(|t| {
                    let limits = registry.runtime().limits_for(t);
                    json!({
                        "name": t.name,
                        "description": t.description,
                        "needs_llm": t.needs_llm,
                        "timeout_ms": limits.timeout.as_millis() as u64,
                        "memory_limit_bytes": limits.memory_bytes,
                    })
                })
                .collect();
            json!({
                "name": p.info.name,
                "version": p.info.version,
                "version_id": p.version_id,
                "path": p.path,
                "job_types": types,
                "grants": registry.runtime().asked_granted(p),
            })
        })
        .collect();
    let errors: Vec<Value> = snapshot
        .errors()
        .map(|e| json!({ "path": e.path(), "error": e.to_string() }))
        .collect();
    ok(
        StatusCode::OK,
        json!({ "plugins": plugins, "errors": errors }),
    )
}

pub(super) async fn hosts(State(state): State<Arc<ApiState>>) -> ApiResult {
    ok(StatusCode::OK, state.worker.queue().hosts().await?)
}

pub(super) async fn job_types(State(state): State<Arc<ApiState>>) -> ApiResult {
    let types = state.worker.queue().type_infos().await?;
    ok(StatusCode::OK, json!({ "job_types": types }))
}

pub(super) async fn health(State(state): State<Arc<ApiState>>) -> Response {
    let worker = &state.worker;
    let mut redis = reachability(worker.queue()).await;
    let partly_down = redis.get("unreachable_partitions").is_some();
    let durability = worker.presence().durability();
    redis["appendonly"] = json!(durability.appendonly);
    redis["maxmemory_policy"] = json!(durability.maxmemory_policy);
    redis["risks"] = json!(durability.risks());
    if let Some(failure) = state.embedded.as_ref().and_then(|e| e.get()) {
        redis["embedded_failure"] = json!(failure);
    }
    let presence = worker.presence();
    let data_lost = presence.recently_lost();
    let unserved: Vec<String> =
        match tokio::time::timeout(Duration::from_secs(2), worker.queue().type_infos()).await {
            Ok(Ok(types)) => types
                .into_iter()
                .filter(|t| !t.live)
                .map(|t| t.job_type)
                .collect(),
            _ => vec![],
        };
    let over_memory = worker.over_memory();
    let status = if redis["reachable"] != true {
        "unhealthy"
    } else if over_memory || data_lost || partly_down {
        "degraded"
    } else {
        "healthy"
    };
    let metrics = worker.metrics();
    let snapshot = worker.registry().snapshot();
    let body = json!({
        "status": status,
        "worker_id": worker.host_id(),
        "processed_jobs": metrics.processed("completed"),
        "failed_jobs": metrics.processed("retried") + metrics.processed("dead"),
        "current_memory": resident_bytes() as f64 / (1024.0 * 1024.0),
        "max_memory_mb": worker.config().max_memory_mb,
        "claims_paused": over_memory,
        "uptime": metrics.uptime().as_secs_f64(),
        "running_jobs": worker.running(),
        "redis": redis,
        "queue_data_lost": {
            "count": worker.metrics().queue_data_lost.load(Ordering::Relaxed),
            "last_at_ms": presence.data_lost_at.load(Ordering::Relaxed),
            "degraded": data_lost,
        },
        "job_types_without_live_host": unserved,
        "plugins": snapshot.plugins().map(|p| json!({
            "name": p.info.name,
            "version_id": p.short_version(),
            "job_types": p.info.job_types.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "plugin_errors": snapshot.errors().map(|e| e.to_string()).collect::<Vec<_>>(),
    });
    let code = if status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, axum::Json(body)).into_response()
}

/// Whether Redis answers, each partition asked: reachable when every one
/// answers; unreachable (with the first error) when none does; reachable
/// with `unreachable_partitions` (index and error of each) when some do not,
/// as when one cluster master is down and its jobs wait.
async fn reachability(queue: &crate::queue::Queue) -> serde_json::Value {
    let answers = queue.ping_each(Duration::from_secs(2)).await;
    let down: Vec<serde_json::Value> = answers
        .iter()
        .enumerate()
        .filter_map(|(p, a)| {
            a.as_ref()
                .err()
                .map(|e| json!({ "partition": p, "error": e }))
        })
        .collect();
    match down.first() {
        None => json!({ "reachable": true }),
        Some(first) if down.len() == answers.len() => {
            json!({ "reachable": false, "error": first["error"] })
        }
        Some(_) => json!({ "reachable": true, "unreachable_partitions": down }),
    }
}

pub(super) async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let queue =
        match tokio::time::timeout(Duration::from_secs(2), state.worker.queue().figures()).await {
            Ok(Ok(figures)) => figures,
            _ => QueueFigures::default(),
        };
    let mut text = state.worker.metrics().render(&queue);
    text.push_str(&state.worker.registry().runtime().meter().prometheus());
    let q = state.worker.queue();
    let bill = async { tokio::try_join!(q.ledger(None), q.ask_counts()) };
    if let Ok(Ok((ledger, asks))) = tokio::time::timeout(Duration::from_secs(2), bill).await {
        crate::metrics::render_bill(&mut text, &ledger, &asks);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
