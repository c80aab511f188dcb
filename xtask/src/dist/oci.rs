//! An OCI image written directly, as an `oci-archive` (a tar of an OCI image
//! layout: `oci-layout`, `index.json`, `blobs/sha256/...`): one gzipped layer,
//! its config and manifest. No daemon and no other tool: `podman load -i`,
//! `skopeo copy oci-archive:...` and `docker load` (since 25) read it.

use serde_json::{Value, json};

use super::archive::{Entry, gzip, sha256_hex, tar};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The annotation `podman load` names the image by.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An image of one layer.
pub struct Image {
    /// `name:tag`, e.g. `deckhand:0.1.0`.
    pub reference: String,
    /// The files of the root file system.
    pub rootfs: Vec<Entry>,
    /// The image config's `config` object (User, Env, Entrypoint, ...).
    pub config: Value,
    /// Every entry's timestamp (seconds since 1970).
    pub mtime: u64,
}

/// A blob of the layout: its bytes and how the manifest points at it.
struct Blob {
    bytes: Vec<u8>,
    digest: String,
}

impl Blob {
    fn new(bytes: Vec<u8>) -> Blob {
        let digest = format!("sha256:{}", sha256_hex(&bytes));
        Blob { bytes, digest }
    }

    fn descriptor(&self, media_type: &str) -> Value {
        json!({ "mediaType": media_type, "digest": self.digest, "size": self.bytes.len() })
    }

    fn entry(&self) -> Entry {
        let path = format!("blobs/{}", self.digest.replacen(':', "/", 1));
        Entry::file(&path, 0o644, 0, self.bytes.clone())
    }
}

fn json_bytes(value: &Value) -> Result<Vec<u8>, String> {
    serde_json::to_vec(value).map_err(|e| format!("cannot encode the image's JSON: {e}"))
}

/// The image as an `oci-archive` file's bytes.
pub fn archive(image: Image) -> Result<Vec<u8>, String> {
    let layer_tar = tar(image.rootfs, image.mtime)?;
    let diff_id = format!("sha256:{}", sha256_hex(&layer_tar));
    let layer = Blob::new(gzip(&layer_tar)?);
    let config = Blob::new(json_bytes(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": image.config,
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created_by": "cargo xtask dist" }],
    }))?);
    let manifest = Blob::new(json_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config.descriptor(CONFIG),
        "layers": [layer.descriptor(LAYER)],
    }))?);
    let mut pointer = manifest.descriptor(MANIFEST);
    pointer["annotations"] = json!({ REF_NAME: image.reference });
    let index = json_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [pointer],
    }))?;
    let layout = json_bytes(&json!({ "imageLayoutVersion": "1.0.0" }))?;
    tar(
        vec![
            Entry::file("oci-layout", 0o644, 0, layout),
            Entry::file("index.json", 0o644, 0, index),
            Entry::dir("blobs", 0o755, 0),
            Entry::dir("blobs/sha256", 0o755, 0),
            layer.entry(),
            config.entry(),
            manifest.entry(),
        ],
        image.mtime,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Read;

    fn files(tar_bytes: &[u8]) -> HashMap<String, Vec<u8>> {
        let mut archive = tar::Archive::new(tar_bytes);
        let mut out = HashMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            out.insert(path, body);
        }
        out
    }

    fn blob<'a>(files: &'a HashMap<String, Vec<u8>>, digest: &str) -> &'a [u8] {
        let body = &files[&format!("blobs/{}", digest.replacen(':', "/", 1))];
        assert_eq!(format!("sha256:{}", sha256_hex(body)), digest);
        body
    }

    #[test]
    fn the_layout_points_from_index_to_manifest_to_config_and_layer_by_digest() {
        let bytes = archive(Image {
            reference: "deckhand:9.9.9".into(),
            rootfs: vec![Entry::file("bin/x", 0o755, 0, b"x".to_vec())],
            config: json!({ "User": "10001:10001" }),
            mtime: 1,
        })
        .unwrap();
        let files = files(&bytes);
        let layout: Value = serde_json::from_slice(&files["oci-layout"]).unwrap();
        assert_eq!(layout["imageLayoutVersion"], "1.0.0");
        let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
        let pointer = &index["manifests"][0];
        assert_eq!(pointer["annotations"][REF_NAME], "deckhand:9.9.9");
        let digest = pointer["digest"].as_str().unwrap();
        let manifest: Value = serde_json::from_slice(blob(&files, digest)).unwrap();
        let config_digest = manifest["config"]["digest"].as_str().unwrap();
        let config: Value = serde_json::from_slice(blob(&files, config_digest)).unwrap();
        assert_eq!(config["config"]["User"], "10001:10001");
        let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
        let mut layer = Vec::new();
        flate2::read::GzDecoder::new(blob(&files, layer_digest))
            .read_to_end(&mut layer)
            .unwrap();
        // The config names the uncompressed layer: that is what runtimes check.
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            format!("sha256:{}", sha256_hex(&layer))
        );
        assert!(self::files(&layer).contains_key("bin/x"));
    }
}
