//! Project tasks, so that one command does all the set-up on a fresh machine.
//!
//! - `cargo xtask test`: build the plugins, check formatting and lints, run
//!   every test. This is what CI runs.
//! - `cargo xtask serve [ARGS]`: build the plugins and run `deckhand serve`
//!   with them (extra arguments go to `deckhand serve`).
//! - `cargo xtask dist [--smoke]`: the static binary and the OCI image in
//!   `target/artifacts/` (see `dist.rs`); `--smoke` runs them as a user would.
//! - `cargo xtask plugins`: only build the plugins into `target/plugins/`.
//! - `cargo xtask templates`: build `examples/plugin-templates/` into `target/templates/`.
//! - `cargo xtask bench [--jobs N] [--smoke]`: Deckhand against its peers (see `bench.rs`);
//!   `--scale`: at equal concurrency (64, 200) and on a cluster (see `scale.rs`), with
//!   this machine's Redis script speed beside the figures (see `yardstick.rs`), and
//!   with a client following its jobs against BullMQ with `QueueEvents` (see
//!   `follow.rs`; `--scale --follow` runs that scenario only).
//! - `cargo xtask align [--path mapper|llm] [--records N]`: the HSDS alignment
//!   measurement over the 64 sample records with a real local LLM
//!   (`DECKHAND_TEST_LLM_URL`, default `http://127.0.0.1:8089/v1` from
//!   `../shared/tools/local-llm.sh`); skipped when no LLM answers there.
//! - `cargo xtask chaos`: the fault runs of `tests/resilience.rs` (Redis
//!   killed with and without persistence, paused 20 s, a host killed, each
//!   under 5,000 jobs through `deckhand bulk`) on 1 and on 3 partitions.

mod bench;
mod cluster;
mod dist;
mod follow;
mod native;
mod scale;
mod suites;
mod yardstick;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Guest crates under `plugins/` that exist only for the tests; they are
/// built but not copied into `target/plugins/`.
const TEST_ONLY_PLUGINS: &[&str] = &["chaos"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("serve") => serve(&args[1..]),
        Some("plugins") => build_plugins().map(|_| ()),
        Some("dist") => dist::dist(&args[1..]),
        Some("templates") => build_plugins().and_then(|_| build_templates()).map(|_| ()),
        Some("bench") if args.iter().any(|a| a == "--scale") => scale::scale(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("align") => align(&args[1..]),
        Some("chaos") => chaos(),
        _ => {
            Err("usage: cargo xtask <test | serve [deckhand serve args...] | plugins | templates | dist [--smoke] | chaos | bench [--jobs N] [--smoke] | align [--path mapper|llm] [--records N] [--retries N] [--input sample|examples|other]>".to_string())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // xtask/ sits directly under the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    run_quiet(cmd).map_err(|e| format!("{cmd:?}: {e}"))
}

/// [`run`] without echoing the command (a suite's is a long list of test
/// names); the error does not name it either.
fn run_quiet(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("failed with {status}"))
    }
}

/// Cargo, without the variables `cargo run` set for xtask itself. Cargo
/// compares a build script's watched variables (ring's build script watches
/// `CARGO_PKG_NAME` and others) with its own environment, so a cargo started
/// with xtask's would rebuild ring and everything above it whenever one
/// started from a plain shell built last, and the other way round.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let own = name.to_str().is_some_and(|n| {
            n.starts_with("CARGO_PKG_")
                || matches!(
                    n,
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_MANIFEST_LINKS"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                )
        });
        if own {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Builds every guest crate to a component and copies the shipped ones into
/// `target/plugins/`. Returns that directory.
fn build_plugins() -> Result<PathBuf, String> {
    let root = root();
    // Idempotent, and quick when the target is already there.
    if Command::new("rustup").arg("--version").output().is_ok() {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    run(cargo()
        .current_dir(root.join("plugins"))
        .args(["build", "--release"]))?;
    let built = root.join("plugins/target/wasm32-wasip2/release");
    build_python_and_js_plugins(&root, &built)?;
    let out = root.join("target/plugins");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let entries =
        std::fs::read_dir(&built).map_err(|e| format!("cannot read {}: {e}", built.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("wasm")
            || TEST_ONLY_PLUGINS.contains(&stem)
        {
            continue;
        }
        let dest = out.join(format!("{stem}.wasm"));
        // Copy then rename, so a running host never sees half a file.
        let tmp = out.join(format!(".{stem}.wasm.tmp"));
        std::fs::copy(&path, &tmp)
            .and_then(|_| std::fs::rename(&tmp, &dest))
            .map_err(|e| format!("cannot install {}: {e}", dest.display()))?;
    }
    Ok(out)
}

/// componentize-py, pinned; installed into `target/py-tools` on first use.
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
/// componentize-js, pinned; installed into `target/js-tools` on first use.
const COMPONENTIZE_JS: &str = "@bytecodealliance/componentize-js@0.23.0";

/// Installs componentize-py if needed; returns its path.
fn componentize_py(root: &Path) -> Result<PathBuf, String> {
    let tools = root.join("target/py-tools");
    let tool = tools.join("bin/componentize-py");
    if !tool.is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&tools))?;
        run(Command::new(tools.join("bin/pip")).args(["install", "--quiet", COMPONENTIZE_PY]))?;
    }
    Ok(tool)
}

/// Installs componentize-js if needed; returns its path.
fn componentize_js(root: &Path) -> Result<PathBuf, String> {
    let tools = root.join("target/js-tools");
    let tool = tools.join("node_modules/.bin/componentize-js");
    if !tool.is_file() {
        std::fs::create_dir_all(&tools)
            .and_then(|()| std::fs::write(tools.join("package.json"), "{\"private\": true}\n"))
            .map_err(|e| format!("cannot prepare {}: {e}", tools.display()))?;
        run(Command::new("npm").current_dir(&tools).args([
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            COMPONENTIZE_JS,
        ]))?;
    }
    Ok(tool)
}

/// Builds the Python (`app.py`, componentize-py) or JavaScript (`app.js`,
/// componentize-js) plugin in `dir` into `target`, unless `target` is newer
/// than its sources. JavaScript components are built without wasi:http
/// (`-d http fetch-event`): the host does not grant it.
fn componentize(root: &Path, dir: &Path, target: &Path) -> Result<(), String> {
    if newer_than_sources(target, &[dir, &root.join("wit")]) {
        return Ok(());
    }
    let mut cmd = if dir.join("app.py").is_file() {
        let mut cmd = Command::new(componentize_py(root)?);
        cmd.args(["-d", "wit", "-w", "job-plugin", "componentize", "app", "-p"])
            .arg(dir);
        cmd
    } else {
        let mut cmd = Command::new(componentize_js(root)?);
        cmd.arg(dir.join("app.js")).args([
            "-w",
            "wit",
            "-n",
            "job-plugin",
            "-d",
            "http",
            "fetch-event",
        ]);
        cmd
    };
    run(cmd.current_dir(root).arg("-o").arg(target))
}

/// Builds each `plugins/<name>/app.py` and `app.js` into `<out>/<name>.wasm`.
fn build_python_and_js_plugins(root: &Path, out: &Path) -> Result<(), String> {
    let plugins = root.join("plugins");
    let entries = std::fs::read_dir(&plugins).map_err(|e| format!("cannot read plugins/: {e}"))?;
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir.join("app.py").is_file() || dir.join("app.js").is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            componentize(root, &dir, &out.join(format!("{name}.wasm")))?;
        }
    }
    Ok(())
}

/// Whether `target` exists and is newer than every file under `sources`.
fn newer_than_sources(target: &Path, sources: &[&Path]) -> bool {
    let Ok(built) = std::fs::metadata(target).and_then(|m| m.modified()) else {
        return false;
    };
    let mut stack: Vec<PathBuf> = sources.iter().map(|p| p.to_path_buf()).collect();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if path.file_name().is_some_and(|n| n == "__pycache__") {
                continue;
            }
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if meta.modified().is_ok_and(|m| m > built) {
            return false;
        }
    }
    true
}

/// Builds the plugin templates in `examples/plugin-templates/` into
/// `target/templates/`, the way their comments tell a newcomer to.
fn build_templates() -> Result<PathBuf, String> {
    let root = root();
    let templates = root.join("examples/plugin-templates");
    let out = root.join("target/templates");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    run(cargo()
        .current_dir(templates.join("rust"))
        .env("CARGO_TARGET_DIR", root.join("target/templates-build"))
        .args(["build", "--release", "--target", "wasm32-wasip2"]))?;
    std::fs::copy(
        root.join("target/templates-build/wasm32-wasip2/release/hello_rust.wasm"),
        out.join("hello_rust.wasm"),
    )
    .map_err(|e| format!("cannot copy the Rust template: {e}"))?;
    componentize(
        &root,
        &templates.join("python"),
        &out.join("hello_python.wasm"),
    )?;
    componentize(
        &root,
        &templates.join("javascript"),
        &out.join("hello_js.wasm"),
    )?;
    native::build_go(&root, &out)?;
    native::build_c(&root, &out)?;
    Ok(out)
}

fn test() -> Result<(), String> {
    let root = root();
    // Tools the static build needs, before anything long starts.
    dist::prerequisites()?;
    build_plugins()?;
    build_templates()?;
    run(cargo().current_dir(&root).args(["fmt", "--all", "--check"]))?;
    run(cargo()
        .current_dir(root.join("plugins"))
        .args(["fmt", "--all", "--check"]))?;
    // The apalis bench driver is a workspace of its own.
    run(cargo()
        .current_dir(root.join("tests/bench/apalis"))
        .args(["fmt", "--check"]))?;
    // In the release profile, like the tests below: the build scripts and
    // proc macros it compiles serve the test build too.
    run(cargo().current_dir(&root).args([
        "clippy",
        "--release",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().current_dir(root.join("plugins")).args([
        "clippy",
        "--release",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The guest crates' own unit tests (the shared `hsds` crate and the
    // HSDS job types' logic), natively.
    run(cargo().current_dir(root.join("plugins")).args([
        "test",
        "--release",
        "-p",
        "hsds",
        "-p",
        "hsds_alignment",
        "-p",
        "hsds_validation",
        "-p",
        "bulk",
        "-p",
        "scraper",
        "--target",
        &host_triple()?,
    ]))?;
    browser_deps(&root)?;
    // The release artifacts, for the `dist` suite (run with the others).
    let dist = dist::build()?;
    suites::run_all(&root, &dist)?;
    // Not a benchmark: a tiny run that checks the peer harness still works.
    bench::bench(&["--smoke".to_string()])
}

/// What the dashboard's browser tests (`tests/dashboard.rs`) drive:
/// `playwright-core` from npm, at `tests/ui/package-lock.json`'s version,
/// and a chromium (`CHROMIUM`, or Debian's `/usr/bin/chromium`).
fn browser_deps(root: &Path) -> Result<(), String> {
    let ui = root.join("tests/ui");
    if !ui.join("node_modules/playwright-core").exists() {
        run(Command::new("npm")
            .current_dir(&ui)
            .args(["ci", "--no-audit", "--no-fund"]))
        .map_err(|e| {
            format!("{e}: the browser tests need Node.js and npm (Debian: apt-get install nodejs npm; .ci/run installs them)")
        })?;
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!(
            "the browser tests need chromium at {chromium} (Debian: apt-get install chromium; .ci/run installs it; or set CHROMIUM)"
        ));
    }
    Ok(())
}

/// Runs the real-LLM alignment measurement (`bulk_over_the_sample_with_a_real_llm`
/// in `tests/hsds.rs`), which prints verdicts, LLM calls and tokens per
/// record, values by provenance and the time per record.
fn align(args: &[String]) -> Result<(), String> {
    let url = std::env::var("DECKHAND_TEST_LLM_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8089/v1".to_string());
    let authority = url
        .split_once("://")
        .map_or(url.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let answers = std::net::ToSocketAddrs::to_socket_addrs(&authority)
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|addr| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok()
        });
    if !answers {
        eprintln!(
            "xtask: no LLM answers at {url}; start one with ../shared/tools/local-llm.sh (skipped)"
        );
        return Ok(());
    }
    let mut env = vec![("DECKHAND_TEST_LLM_URL", url.clone())];
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--path" => env.push(("DECKHAND_TEST_LLM_PATH", value.clone())),
            "--records" => env.push(("DECKHAND_TEST_LLM_RECORDS", value.clone())),
            "--retries" => env.push(("DECKHAND_TEST_LLM_RETRIES", value.clone())),
            "--input" => env.push(("DECKHAND_TEST_LLM_INPUT", value.clone())),
            other => {
                return Err(format!(
                    "unknown flag {other} (--path, --records, --retries, --input sample|examples|other)"
                ));
            }
        }
    }
    build_plugins()?;
    let mut cmd = cargo();
    // `--workspace`, as `cargo xtask test` builds it: with `-p deckhand`
    // the features unify differently and wasmtime is built a second time.
    cmd.current_dir(root()).args([
        "test",
        "--release",
        "--workspace",
        "--test",
        "e2e",
        "hsds::bulk_over_the_sample_with_a_real_llm",
        "--",
        "--exact",
        "--nocapture",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The fault runs (`tests/resilience.rs`, `resilience::bulk_*`) once on one
/// partition and once on three (`DECKHAND_CHAOS_PARTITIONS`); CI runs each
/// on the partitions its test names.
fn chaos() -> Result<(), String> {
    build_plugins()?;
    for partitions in ["1", "3"] {
        eprintln!("xtask: the fault runs on {partitions} partition(s)");
        let mut cmd = cargo();
        cmd.current_dir(root())
            .args(["test", "--release", "--workspace", "--test", "e2e"])
            .args([
                "resilience::bulk_",
                "--",
                "--test-threads",
                "1",
                "--nocapture",
            ])
            .env("DECKHAND_CHAOS_PARTITIONS", partitions);
        run(&mut cmd)?;
    }
    Ok(())
}

/// The target triple of this machine, as rustc reports it.
fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| "rustc -vV printed no host triple".into())
}

fn serve(extra: &[String]) -> Result<(), String> {
    let root = root();
    let plugins = build_plugins()?;
    // Built as `cargo xtask test` builds it (`cargo test --release
    // --workspace` also builds `target/release/deckhand`), so after the
    // tests nothing compiles again: `cargo run -p deckhand` would unify the
    // dependencies' features differently and compile wasmtime once more.
    run(cargo()
        .current_dir(&root)
        .args(["test", "--release", "--workspace", "--no-run"]))?;
    let mut cmd = Command::new(root.join("target/release/deckhand"));
    cmd.current_dir(&root)
        .args(["serve", "--plugin-dir"])
        .arg(&plugins)
        .args(extra);
    run(&mut cmd)
}
