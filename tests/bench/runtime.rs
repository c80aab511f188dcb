//! The cost of the sandbox: one no-op job (`echo.wasm`, payload `{}`) in a
//! fresh instance, compiled component cached, no Redis. Criterion measures
//! the mean; the p50/p99 over 2,000 single runs are printed beside it.
//!
//! `cargo bench -p deckhand --bench runtime` (build the plugins first:
//! `cargo xtask plugins`).

use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use deckhand::runtime::{JobInput, Plugin, Runtime, RuntimeConfig, Standalone};

fn echo_job() -> JobInput {
    JobInput {
        id: "bench".into(),
        job_type: "echo".into(),
        payload: "{}".into(),
        attempt: 1,
        feedback: None,
        metadata: vec![],
    }
}

fn instantiate_and_call(c: &mut Criterion) {
    for (name, pool_instances) in [("on demand", 0), ("pooled", 64)] {
        let config = RuntimeConfig {
            pool_instances,
            ..RuntimeConfig::default()
        };
        one_config(c, name, config);
    }
}

/// Instantiate + call under one allocation strategy.
fn one_config(c: &mut Criterion, name: &str, config: RuntimeConfig) {
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let runtime = Runtime::new(config).expect("runtime");
    let wasm = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/echo.wasm");
    let plugin = rt
        .block_on(Plugin::load(&runtime, &wasm))
        .expect("target/plugins/echo.wasm (cargo xtask plugins)");
    let services = Arc::new(Standalone);

    let mut times: Vec<u128> = (0..2000)
        .map(|_| {
            let t = Instant::now();
            rt.block_on(runtime.run(&plugin, echo_job(), services.clone()))
                .expect("echo runs");
            t.elapsed().as_micros()
        })
        .collect();
    times.sort_unstable();
    println!(
        "no-op job, instantiate + call, {name}: p50 {} µs, p99 {} µs (2,000 runs)",
        times[times.len() / 2],
        times[times.len() * 99 / 100]
    );

    c.bench_function(&format!("instantiate + call echo.wasm, {name}"), |b| {
        b.iter(|| {
            rt.block_on(runtime.run(&plugin, echo_job(), services.clone()))
                .expect("echo runs")
        })
    });
}

criterion_group!(benches, instantiate_and_call);
criterion_main!(benches);
