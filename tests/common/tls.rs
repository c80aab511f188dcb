//! Certificates for the TLS tests, made by `openssl` (which `.ci/run`
//! installs when missing), and TLS-only Redis nodes to run them with.

use std::path::Path;

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all
/// made by `openssl` in `dir`.
pub fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl on PATH (Debian: apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            super::stderr(&out)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=deckhand-test-ca",
    ]);
    std::fs::write(dir.join("san"), "subjectAltName=IP:127.0.0.1,DNS:localhost").unwrap();
    for name in ["server", "client"] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={name}"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            "san",
        ]);
    }
}

/// A TLS-only `redis-server`, stopped when dropped.
pub struct TlsNode(std::process::Child);

impl Drop for TlsNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `redis-cli` over TLS, trusting the test CA in `certs`.
pub fn cli_output(certs: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(certs.join("ca.crt"))
        .args(args)
        .output()
        .expect("redis-cli on PATH")
}

/// A command's reply from the TLS node on `port`, as text.
pub fn cli(certs: &Path, port: u16, args: &[&str]) -> String {
    let mut all = vec!["-p".to_string(), port.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    String::from_utf8_lossy(&cli_output(certs, &all).stdout).into_owned()
}

/// A `redis-server` that speaks TLS only on `port` (plain port 0), with the
/// certificates in `certs`, not asking clients for theirs, its files in
/// `dir`, and `extra` arguments (a config file first, if any); returns once
/// it answers PING.
pub fn start_tls_server(certs: &Path, dir: &Path, port: u16, extra: &[&str]) -> TlsNode {
    let child = std::process::Command::new("redis-server")
        .args(extra)
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .arg("--tls-cert-file")
        .arg(certs.join("server.crt"))
        .arg("--tls-key-file")
        .arg(certs.join("server.key"))
        .arg("--tls-ca-cert-file")
        .arg(certs.join("ca.crt"))
        .args([
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("redis-server on PATH");
    let node = TlsNode(child);
    super::cluster::wait_for(std::time::Duration::from_secs(10), || {
        cli(certs, port, &["PING"]).starts_with("PONG")
    });
    node
}
