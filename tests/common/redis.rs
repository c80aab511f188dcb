//! A private `redis-server` per test, on a free port, that the test can kill
//! and restart. The machine's own Redis on 6379 is never touched.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TestRedis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Persistence and other settings, given at every (re)start.
    settings: Vec<String>,
    /// `requirepass`, when set.
    password: Option<String>,
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl TestRedis {
    /// Starts a Redis with AOF on (fsync on every write), so a restart keeps
    /// every acknowledged write.
    pub fn start() -> TestRedis {
        TestRedis::start_with(&["--appendonly", "yes", "--appendfsync", "always"], None)
    }

    /// A Redis that keeps nothing on disk: a restart comes back empty.
    pub fn start_volatile() -> TestRedis {
        TestRedis::start_with(&["--appendonly", "no"], None)
    }

    /// A Redis with these persistence settings and, optionally, a password.
    pub fn start_with(settings: &[&str], password: Option<&str>) -> TestRedis {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut redis = TestRedis {
            port: free_port(),
            dir,
            child: None,
            settings: settings.iter().map(|s| s.to_string()).collect(),
            password: password.map(str::to_string),
        };
        redis.spawn();
        redis
    }

    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.settings)
            .args(["--save", ""])
            .args(["--enable-debug-command", "yes"])
            .args(
                self.password
                    .iter()
                    .flat_map(|p| ["--requirepass".to_string(), p.clone()]),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (install Debian's redis-server)");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(mut conn) = self.client().get_connection()
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("redis url")
    }

    pub fn conn(&self) -> redis::Connection {
        self.client()
            .get_connection()
            .expect("connect to test redis")
    }

    /// SIGKILL: no chance to flush anything beyond what AOF already has.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal by name (`STOP`, `CONT`) to the server.
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            super::signal(child, name);
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Calls of `command` this Redis has served (`INFO commandstats`).
    pub fn calls(&self, command: &str) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut self.conn())
            .expect("INFO commandstats");
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// A digest of the whole dataset: equal digests, equal data.
    pub fn digest(&self) -> String {
        redis::cmd("DEBUG")
            .arg("DIGEST")
            .query(&mut self.conn())
            .expect("DEBUG DIGEST")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
