//! The plugin templates in `examples/plugin-templates/`, built as their
//! comments say (by `cargo xtask test`), run through `deckhand exec`.

use crate::common;

use common::*;
use serde_json::{Value, json};

fn template(name: &str) -> std::path::PathBuf {
    let path = root().join(format!("target/templates/{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: `cargo xtask test` (or `cargo xtask templates`) builds it",
        path.display()
    );
    path
}

#[test]
fn every_template_builds_and_runs() {
    // Compile each component once, then load it from the cache.
    let cache = tempfile::tempdir().unwrap();
    let deckhand = || {
        let mut cmd = common::deckhand();
        cmd.env("DECKHAND_COMPILE_CACHE", "true")
            .env("DECKHAND_DATA_DIR", cache.path());
        cmd
    };
    for (name, job_type) in [
        ("hello_rust", "hello.rust"),
        ("hello_python", "hello.python"),
        ("hello_js", "hello.js"),
        ("hello_go", "hello.go"),
        ("hello_c", "hello.c"),
    ] {
        let wasm = template(name);
        let good = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(good.path(), r#"{"name": "Ada"}"#).unwrap();
        let out = deckhand()
            .arg("exec")
            .arg(&wasm)
            .arg(good.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        assert_eq!(v, json!({"greeting": "Hello, Ada!"}), "{name}");

        let bad = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(bad.path(), "{}").unwrap();
        let out = deckhand()
            .arg("exec")
            .arg(&wasm)
            .arg(bad.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            stderr(&out).contains("error[fail]")
                && stderr(&out).contains("payload.name is missing"),
            "{name}: {}",
            stderr(&out)
        );

        let listed = deckhand()
            .args(["plugins", "check"])
            .arg(&wasm)
            .output()
            .unwrap();
        assert!(
            stdout(&listed).contains(job_type),
            "{name}: {}",
            stdout(&listed)
        );
    }
}
