//! TLS to Redis beyond what the URL says. `rediss://` (and
//! `rediss+cluster://`) turn TLS on and trust the system's certificate
//! authorities; these files add a CA to trust instead (a private or
//! self-signed server certificate), and a client certificate for servers
//! that ask for one (`tls-auth-clients yes`). Read when the queue connects;
//! a file that cannot be read stops the start, naming its key.

use std::path::PathBuf;

use redis::{ClientTlsConfig, TlsCertificates};

use super::{Invalid, invalid};

/// The TLS files of `[queue]`; all empty: the system's CAs, no client
/// certificate.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TlsFiles {
    /// PEM certificates of the CAs to trust (`queue.tls_ca_file`).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (`queue.tls_cert_file`), with its key.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate (`queue.tls_key_file`).
    pub key_file: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether any file is set.
    pub fn any(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }

    /// The files' contents, as the Redis client takes them; `None` when no
    /// file is set.
    pub fn load(&self) -> Result<Option<TlsCertificates>, Invalid> {
        if !self.any() {
            return Ok(None);
        }
        let client_tls = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: read("queue.tls_cert_file", cert)?,
                client_key: read("queue.tls_key_file", key)?,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    "queue.tls_key_file",
                    "queue.tls_cert_file is set: a client certificate needs its key",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "queue.tls_cert_file",
                    "queue.tls_key_file is set: a client key needs its certificate",
                ));
            }
        };
        let root_cert = match &self.ca_file {
            Some(path) => Some(read("queue.tls_ca_file", path)?),
            None => None,
        };
        Ok(Some(TlsCertificates {
            client_tls,
            root_cert,
        }))
    }
}

/// A PEM file's bytes; an error names the key and the path, and says
/// whether the file holds no PEM block at all.
fn read(key: &'static str, path: &PathBuf) -> Result<Vec<u8>, Invalid> {
    let bytes = std::fs::read(path)
        .map_err(|e| invalid(key, format!("cannot read {}: {e}", path.display())))?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(invalid(
            key,
            format!("{} holds no PEM block (-----BEGIN ...)", path.display()),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_paired_and_named_in_errors() {
        assert_eq!(
            TlsFiles::default().load().map(|c| c.is_none()).ok(),
            Some(true)
        );
        let dir = tempfile::tempdir().expect("dir");
        let pem = dir.path().join("ca.pem");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let not_pem = dir.path().join("ca.der");
        std::fs::write(&not_pem, [0x30, 0x82, 0x01]).expect("write");
        let files =
            |ca: Option<&PathBuf>, cert: Option<&PathBuf>, key: Option<&PathBuf>| TlsFiles {
                ca_file: ca.cloned(),
                cert_file: cert.cloned(),
                key_file: key.cloned(),
            };
        let certs = files(Some(&pem), None, None)
            .load()
            .expect("loads")
            .expect("some");
        assert!(certs.root_cert.is_some() && certs.client_tls.is_none());
        let both = files(None, Some(&pem), Some(&pem))
            .load()
            .expect("loads")
            .expect("some");
        assert!(both.client_tls.is_some() && both.root_cert.is_none());
        let err = |f: TlsFiles| f.load().err().map(|e| e.to_string()).unwrap_or_default();
        let e = err(files(None, Some(&pem), None));
        assert!(e.contains("queue.tls_key_file"), "{e}");
        let e = err(files(None, None, Some(&pem)));
        assert!(e.contains("queue.tls_cert_file"), "{e}");
        let e = err(files(Some(&not_pem), None, None));
        assert!(
            e.contains("queue.tls_ca_file") && e.contains("no PEM block"),
            "{e}"
        );
        let e = err(files(Some(&dir.path().join("missing.pem")), None, None));
        assert!(
            e.contains("queue.tls_ca_file") && e.contains("cannot read"),
            "{e}"
        );
    }
}
