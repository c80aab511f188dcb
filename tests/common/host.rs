//! `deckhand serve` processes that a test can kill -9, freeze, thaw and stop.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

pub struct Host {
    pub id: String,
    /// The host's HTTP API, e.g. `http://127.0.0.1:40123`.
    pub api: String,
    child: Option<Child>,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Host {
    /// Starts `deckhand serve` against `redis_url` with the plugins in `dir`.
    /// `extra` are further `serve` flags (lease, workers, ...).
    pub fn start(id: &str, redis_url: &str, dir: &Path, extra: &[&str]) -> Host {
        Host::start_with_env(id, redis_url, dir, extra, &[])
    }

    /// Like [`Host::start`], with extra environment variables for this
    /// process only (never the test process': other tests run beside it).
    pub fn start_with_env(
        id: &str,
        redis_url: &str,
        dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Host {
        let log_dir = tempfile::tempdir().expect("temp dir");
        let log = log_dir.path().join("host.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let listen = format!("127.0.0.1:{}", super::redis::free_port());
        let child = super::deckhand()
            .args(["serve", "--redis-url", redis_url, "--host-id", id])
            .args(["--listen", &listen])
            .arg("--data-dir")
            .arg(log_dir.path().join("data"))
            .arg("--plugin-dir")
            .arg(dir)
            .args(["--reap-interval-ms", "200", "--reload-interval-ms", "100"])
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start deckhand serve");
        Host {
            id: id.to_string(),
            api: format!("http://{listen}"),
            child: Some(child),
            log,
            _log_dir: log_dir,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {sig} {}", self.pid());
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn stop(&self) {
        self.signal("-STOP");
    }

    pub fn cont(&self) {
        self.signal("-CONT");
    }

    /// SIGTERM, then wait for the process to exit; returns its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        self.signal("-TERM");
        let mut child = self.child.take()?;
        for _ in 0..600 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!(
            "host {} did not exit within 30 s of SIGTERM:\n{}",
            self.id,
            self.log()
        );
    }

    /// Waits until the log contains `needle` (30 s bound).
    pub fn wait_for_log(&self, needle: &str) {
        for _ in 0..600 {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("host {} never logged {needle:?}:\n{}", self.id, self.log());
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen process must be thawed to die cleanly.
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
