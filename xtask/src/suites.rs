//! The tests of `cargo xtask test`: the unit tests, then the end-to-end
//! suites of `tests/e2e.rs` one suite at a time.
//!
//! The suites share one test binary (one link of the host and wasmtime),
//! but each runs as if it had its own: `--exact` with that suite's test
//! names, so tests of two suites never run at once. Every suite runs even
//! when one fails; the failures are named together at the end.

use std::path::Path;

use crate::{cargo, run, run_quiet};

/// The test binary that holds the end-to-end suites.
const E2E: &str = "e2e";

/// `dist` is the folder of `cargo xtask dist`'s artifacts, which the `dist`
/// suite unpacks and runs (`DECKHAND_DIST`).
pub fn run_all(root: &Path, dist: &Path) -> Result<(), String> {
    let release = ["test", "--release", "--workspace"];
    // Everything built first, so each suite below starts at once.
    run(cargo().current_dir(root).args(release).arg("--no-run"))?;
    run(cargo()
        .current_dir(root)
        .args(release)
        .args(["--lib", "--bins"]))?;
    run(cargo().current_dir(root).args(release).arg("--doc"))?;
    let mut failed = Vec::new();
    for (suite, tests) in suites(root)? {
        let mut cmd = cargo();
        cmd.current_dir(root)
            .env("DECKHAND_DIST", dist)
            .args(release)
            .args(["--test", E2E, "--", "--exact"])
            .args(&tests);
        eprintln!("xtask: suite {suite} ({} tests)", tests.len());
        if let Err(e) = run_quiet(&mut cmd) {
            eprintln!("xtask: suite {suite} failed: {e}");
            failed.push(suite);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failing suites: {}", failed.join(", ")))
    }
}

/// The suites and their tests' full names, in the order the binary lists
/// them: a test `queue::claims_fairly` belongs to suite `queue`.
fn suites(root: &Path) -> Result<Vec<(String, Vec<String>)>, String> {
    let out = cargo()
        .current_dir(root)
        .args(["test", "--release", "--workspace", "--test", E2E])
        .args(["--", "--list", "--format", "terse"])
        .output()
        .map_err(|e| format!("cannot list the {E2E} tests: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "listing the {E2E} tests failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let suites = group(&listed);
    if suites.is_empty() {
        return Err(format!("the {E2E} binary listed no tests:\n{listed}"));
    }
    Ok(suites)
}

/// Groups `--list --format terse` lines (`suite::name: test`) by suite.
fn group(listed: &str) -> Vec<(String, Vec<String>)> {
    let mut suites: Vec<(String, Vec<String>)> = Vec::new();
    for name in listed.lines().filter_map(|l| l.strip_suffix(": test")) {
        let suite = name.split("::").next().unwrap_or(name).to_string();
        match suites.iter_mut().find(|(s, _)| *s == suite) {
            Some((_, tests)) => tests.push(name.to_string()),
            None => suites.push((suite, vec![name.to_string()])),
        }
    }
    suites
}

#[cfg(test)]
mod tests {
    use super::group;

    #[test]
    fn tests_are_grouped_by_their_first_path_segment() {
        let listed = "api::a: test\napi::b: test\ncluster::tls::c: test\n\
                      queue::d: test\nsome benchmark: bench\n";
        let suites = group(listed);
        let names: Vec<&str> = suites.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["api", "cluster", "queue"]);
        assert_eq!(suites[0].1, ["api::a", "api::b"]);
        assert_eq!(suites[1].1, ["cluster::tls::c"]);
    }
}
