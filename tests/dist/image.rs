//! The OCI image: its layout, config and root file system as a runtime reads
//! them, and, under podman, the same two jobs as the tarball.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::super::common::api::Api;
use super::super::common::redis::{TestRedis, free_port};
use super::super::common::{root, sha256_hex};
use super::{artifact, artifacts, output, ready, serve_two_jobs};

/// The image as a runtime sees it.
struct Unpacked {
    /// `name:tag`, from the index's `org.opencontainers.image.ref.name`.
    reference: String,
    /// The image config's `config` object.
    config: Value,
    /// The layer's files, unpacked.
    rootfs: tempfile::TempDir,
    /// `tar -tv --numeric-owner` of the layer: modes and owners.
    listing: String,
}

/// A blob of the layout at `dir`, checked against its digest.
fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    let path = dir.join("blobs").join(digest.replacen(':', "/", 1));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(format!("sha256:{}", sha256_hex(&bytes)), digest);
    bytes
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("the image's JSON")
}

fn unpack(image: &Path) -> Unpacked {
    let layout = tempfile::tempdir().expect("temp dir");
    let at = layout.path().to_str().expect("UTF-8");
    output("tar", &["-xf", image.to_str().expect("UTF-8"), "-C", at]);
    let kind = json(&std::fs::read(layout.path().join("oci-layout")).expect("oci-layout"));
    assert_eq!(kind["imageLayoutVersion"], "1.0.0");
    let index = json(&std::fs::read(layout.path().join("index.json")).expect("index.json"));
    let pointer = &index["manifests"][0];
    let reference = pointer["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .expect("a reference name")
        .to_string();
    let manifest = json(&blob(
        layout.path(),
        pointer["digest"].as_str().expect("digest"),
    ));
    let config = json(&blob(
        layout.path(),
        manifest["config"]["digest"].as_str().expect("config"),
    ));
    let layer_digest = manifest["layers"][0]["digest"].as_str().expect("a layer");
    let layer = blob(layout.path(), layer_digest);
    let layer_path = layout.path().join("layer.tar.gz");
    std::fs::write(&layer_path, &layer).expect("write the layer");
    let rootfs = tempfile::tempdir().expect("temp dir");
    let layer_arg = layer_path.to_str().expect("UTF-8");
    output(
        "tar",
        &[
            "-xzf",
            layer_arg,
            "-C",
            rootfs.path().to_str().expect("UTF-8"),
        ],
    );
    let listing = output("tar", &["-tvzf", layer_arg, "--numeric-owner"]);
    Unpacked {
        reference,
        config: config["config"].clone(),
        rootfs,
        listing,
    }
}

/// The layer's listing line for `path` (`drwxr-x--- 10001/10001 0 ... data/`).
fn listed<'a>(listing: &'a str, path: &str) -> &'a str {
    listing
        .lines()
        .find(|l| l.split_whitespace().last() == Some(path))
        .unwrap_or_else(|| panic!("{path} is not in the layer:\n{listing}"))
}

fn check_layout(image: &Unpacked) {
    let config = &image.config;
    assert_eq!(config["User"], "10001:10001", "not root: {config:#}");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/deckhand"])
    );
    assert_eq!(config["Cmd"], serde_json::json!(["serve"]));
    for volume in ["/plugins", "/data"] {
        assert!(
            config["Volumes"].get(volume).is_some(),
            "{volume}: {config:#}"
        );
    }
    let env: Vec<&str> = config["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for var in ["DECKHAND_PLUGIN_DIR=/plugins", "DECKHAND_DATA_DIR=/data"] {
        assert!(env.contains(&var), "{var} in {env:?}");
    }
    let rootfs = image.rootfs.path();
    assert!(rootfs.join("usr/local/bin/deckhand").is_file());
    for plugin in ["echo", "hsds_alignment", "hsds_validation", "bulk", "llm"] {
        assert!(
            rootfs.join(format!("plugins/{plugin}.wasm")).is_file(),
            "{plugin}"
        );
    }
    assert!(listed(&image.listing, "usr/local/bin/deckhand").starts_with("-rwxr-xr-x"));
    assert!(
        listed(&image.listing, "data/").contains(" 10001/10001 "),
        "/data is the user's"
    );
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).expect("etc/passwd");
    assert!(passwd.contains("deckhand:x:10001:10001:"), "{passwd}");
    // The compose file runs this image, by the name `podman load` gives it.
    let compose = std::fs::read_to_string(root().join("dist/compose.yaml")).expect("compose");
    let name = format!("image: localhost/{}", image.reference);
    assert!(compose.contains(&name), "dist/compose.yaml names {name}");
}

/// Why podman cannot run containers here, if it cannot.
fn podman_missing() -> Option<String> {
    match Command::new("podman")
        .args(["info", "--format", "{{.Host.OCIRuntime.Name}}"])
        .output()
    {
        Err(e) => Some(format!("podman is not installed ({e})")),
        Ok(out) if !out.status.success() => Some(format!(
            "podman info failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// `podman run` and the settings this kind of machine needs: `runc` where
/// installed (crun refuses hybrid cgroup v1/v2 hierarchies), and file and
/// process limits no higher than the sandbox allows (podman's defaults
/// raise them, which an unprivileged sandbox refuses).
fn podman_run_args() -> Vec<&'static str> {
    let mut args = Vec::new();
    if Command::new("runc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        args.extend(["--runtime", "runc"]);
    }
    args.extend([
        "run",
        "--ulimit",
        "nofile=4096:4096",
        "--ulimit",
        "nproc=4096:4096",
    ]);
    args
}

/// A container removed (and its image) when the test ends, passed or not.
struct Container {
    name: String,
    image: String,
}

impl Container {
    fn logs(&self) -> String {
        Command::new("podman")
            .args(["logs", &self.name])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", &self.name])
            .output();
        let _ = Command::new("podman")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_runs_as_a_user_with_its_volumes_and_serves_jobs_under_podman() {
    let Some(dist) = artifacts() else { return };
    let path = artifact(&dist, "deckhand-", "-oci.tar");
    let image = unpack(&path);
    check_layout(&image);
    if let Some(why) = podman_missing() {
        eprintln!("{why}: checked the image's layout and config only, not a run");
        return;
    }
    let started = std::time::Instant::now();
    let loaded = output("podman", &["load", "-i", path.to_str().expect("UTF-8")]);
    let tag = format!("localhost/{}", image.reference);
    assert!(
        loaded.contains(&tag),
        "podman load named it {tag}: {loaded}"
    );

    let redis = TestRedis::start();
    let port = free_port();
    let token = "smoke-token-0123456789abcdef";
    let container = Container {
        name: format!("deckhand-smoke-{port}"),
        image: tag.clone(),
    };
    let env = [
        format!("DECKHAND_REDIS_URL={}", redis.url()),
        format!("DECKHAND_API_LISTEN=127.0.0.1:{port}"),
        format!("DECKHAND_API_TOKEN={token}"),
        "RUST_LOG=info".to_string(),
    ];
    let mut args = podman_run_args();
    args.extend(["-d", "--network", "host", "--name", &container.name]);
    for var in &env {
        args.extend(["-e", var.as_str()]);
    }
    args.push(&tag);
    let run = Command::new("podman")
        .args(&args)
        .output()
        .expect("podman runs");
    let said = String::from_utf8_lossy(&run.stderr);
    if !run.status.success() && said.contains("OCI") {
        // The runtime could not make a container on this machine (cgroups,
        // rlimits): not the image's fault, and nothing of it ran.
        eprintln!(
            "podman cannot start containers here ({}): checked the layout only",
            said.trim()
        );
        return;
    }
    assert!(run.status.success(), "podman {args:?}: {said}");
    let api = Api::at(&format!("http://127.0.0.1:{port}"), Some(token));
    ready(&api, &["echo", "hsds_alignment"], &|| container.logs()).await;
    serve_two_jobs(&api, &|| container.logs()).await;
    eprintln!(
        "from podman load to two served jobs: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let top = output("podman", &["top", &container.name, "user"]);
    assert!(
        top.contains("deckhand") || top.contains("10001"),
        "runs as the user: {top}"
    );
}
