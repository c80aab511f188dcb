//! Deterministic archives: the same entries give the same bytes (sorted
//! paths, one timestamp, numeric owners, no user or host names), so a
//! tarball's SHA-256 and an image's digests depend on the content only.

use std::io::Write;

use sha2::Digest;

/// One file or folder of an archive.
pub struct Entry {
    /// Relative, `/`-separated, no leading `/` (`usr/local/bin/deckhand`).
    pub path: String,
    pub mode: u32,
    /// Owner and group, numeric.
    pub owner: u64,
    /// `None` for a folder.
    pub body: Option<Vec<u8>>,
}

impl Entry {
    pub fn dir(path: &str, mode: u32, owner: u64) -> Entry {
        Entry {
            path: path.to_string(),
            mode,
            owner,
            body: None,
        }
    }

    pub fn file(path: &str, mode: u32, owner: u64, body: Vec<u8>) -> Entry {
        Entry {
            path: path.to_string(),
            mode,
            owner,
            body: Some(body),
        }
    }
}

/// A tar of `entries` in path order, every entry dated `mtime` (seconds).
pub fn tar(mut entries: Vec<Entry>, mtime: u64) -> Result<Vec<u8>, String> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut builder = tar::Builder::new(Vec::new());
    for entry in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_mode(entry.mode);
        header.set_uid(entry.owner);
        header.set_gid(entry.owner);
        header.set_mtime(mtime);
        let (path, body): (String, &[u8]) = match &entry.body {
            Some(body) => {
                header.set_entry_type(tar::EntryType::Regular);
                (entry.path.clone(), body)
            }
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                (format!("{}/", entry.path.trim_end_matches('/')), &[])
            }
        };
        header.set_size(body.len() as u64);
        builder
            .append_data(&mut header, &path, body)
            .map_err(|e| format!("cannot add {path} to the archive: {e}"))?;
    }
    builder
        .into_inner()
        .map_err(|e| format!("cannot finish the archive: {e}"))
}

/// `bytes` gzipped, with no name and no timestamp in the gzip header.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(bytes)
        .and_then(|_| encoder.finish())
        .map_err(|e| format!("cannot gzip: {e}"))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::file("b/x.txt", 0o644, 7, b"hello".to_vec()),
            Entry::dir("b", 0o755, 7),
            Entry::dir("a", 0o700, 0),
        ]
    }

    #[test]
    fn the_same_entries_give_the_same_bytes_in_path_order_with_numeric_owners() {
        let one = gzip(&tar(sample(), 1_700_000_000).unwrap()).unwrap();
        let mut reversed = sample();
        reversed.reverse();
        let two = gzip(&tar(reversed, 1_700_000_000).unwrap()).unwrap();
        assert_eq!(sha256_hex(&one), sha256_hex(&two));

        let raw = tar(sample(), 1_700_000_000).unwrap();
        let mut archive = tar::Archive::new(raw.as_slice());
        let seen: Vec<(String, u32, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("a/".into(), 0o700, 0, 1_700_000_000),
                ("b/".into(), 0o755, 7, 1_700_000_000),
                ("b/x.txt".into(), 0o644, 7, 1_700_000_000),
            ]
        );
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
