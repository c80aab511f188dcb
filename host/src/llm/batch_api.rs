//! The provider's batch API, as OpenAI defines it (and compatible servers
//! copy): a JSONL file of requests uploaded (`POST /files`, purpose
//! `batch`), a batch made of it (`POST /batches`), its status polled
//! (`GET /batches/{id}`), its output and error files read
//! (`GET /files/{id}/content`). Each line carries a `custom_id`, which is
//! how answers find their calls.

use serde_json::{Value, json};

use super::*;

/// The largest output or error file read (a provider's body is outside
/// data: a bigger one is refused before it is held whole).
const MAX_FILE_BYTES: usize = 512 * 1024 * 1024;

/// A batch as the provider reports it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Remote {
    pub status: String,
    pub output_file_id: Option<String>,
    pub error_file_id: Option<String>,
}

impl Remote {
    /// Whether the provider is done with it (its files are final).
    pub fn ended(&self) -> bool {
        matches!(
            self.status.as_str(),
            "completed" | "failed" | "expired" | "cancelled"
        )
    }
}

impl LlmClient {
    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    }

    /// Sends `req` and reads a JSON answer; an error names what was asked.
    async fn batch_json(&self, what: &str, req: reqwest::RequestBuilder) -> Result<Value, String> {
        let resp = self
            .authed(req)
            .send()
            .await
            .map_err(|e| self.redacted(format!("{what}: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| self.redacted(format!("{what}: {e}")))?;
        if !status.is_success() {
            return Err(self.redacted(format!("{what}: HTTP {status}: {}", truncate(&text, 300))));
        }
        serde_json::from_str(&text).map_err(|e| format!("{what}: the answer is not JSON ({e})"))
    }

    /// Uploads `jsonl` as a batch input file; its id.
    pub(super) async fn upload_batch_file(&self, jsonl: Vec<u8>) -> Result<String, String> {
        let boundary = format!("deckhand-{}", uuid::Uuid::now_v7().simple());
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"batch.jsonl\"\r\n\
             Content-Type: application/jsonl\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&jsonl);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = self
            .http
            .post(self.api("/files"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let file = self.batch_json("uploading the batch file", req).await?;
        id_of(&file, "the uploaded file")
    }

    /// Makes a batch of the uploaded file, tagged with our `local` id.
    pub(super) async fn create_batch(&self, file_id: &str, local: &str) -> Result<String, String> {
        let req = self.http.post(self.api("/batches")).json(&json!({
            "input_file_id": file_id,
            "endpoint": format!("/v1{}", self.dialect().path()),
            "completion_window": "24h",
            "metadata": { "deckhand_batch": local },
        }));
        let batch = self.batch_json("creating the batch", req).await?;
        id_of(&batch, "the batch")
    }

    /// The provider's batch tagged with our `local` id, among its latest
    /// 100: a host that died after creating it finds it, and does not
    /// create a second.
    pub(super) async fn find_batch(&self, local: &str) -> Result<Option<String>, String> {
        let req = self.http.get(self.api("/batches?limit=100"));
        let list = self.batch_json("listing the batches", req).await?;
        Ok(list["data"].as_array().and_then(|all| {
            all.iter()
                .find(|b| b["metadata"]["deckhand_batch"] == local)
                .and_then(|b| b["id"].as_str().map(String::from))
        }))
    }

    pub(super) async fn batch_status(&self, id: &str) -> Result<Remote, String> {
        let req = self.http.get(self.api(&format!("/batches/{id}")));
        let b = self.batch_json("reading the batch", req).await?;
        let file = |name: &str| b[name].as_str().filter(|f| !f.is_empty()).map(String::from);
        Ok(Remote {
            status: b["status"].as_str().unwrap_or("unknown").to_string(),
            output_file_id: file("output_file_id"),
            error_file_id: file("error_file_id"),
        })
    }

    /// A file's content, at most [`MAX_FILE_BYTES`].
    pub(super) async fn batch_file(&self, id: &str) -> Result<String, String> {
        let what = "reading a batch file";
        let req = self.http.get(self.api(&format!("/files/{id}/content")));
        let mut resp = self
            .authed(req)
            .send()
            .await
            .map_err(|e| self.redacted(format!("{what}: {e}")))?;
        if !resp.status().is_success() {
            return Err(format!("{what}: HTTP {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.redacted(format!("{what}: {e}")))?
        {
            if body.len() + chunk.len() > MAX_FILE_BYTES {
                return Err(format!("{what}: longer than {MAX_FILE_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

fn id_of(v: &Value, what: &str) -> Result<String, String> {
    v["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(String::from)
        .ok_or_else(|| format!("the provider gave {what} no id"))
}
