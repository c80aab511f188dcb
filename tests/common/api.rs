//! A small client for the host's HTTP API, shared by the API tests.

use std::time::Duration;

use serde_json::{Value, json};

use super::host::Host;

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

/// The ids a `chaos.fanout` job's result names (`{"children": [...]}`).
pub fn children_of(job: &Value) -> Vec<String> {
    let result: Value = serde_json::from_str(job["result"].as_str().unwrap_or("null")).unwrap();
    children_in(&result)
}

/// The `name=value` of the session cookie a response sets, if it sets one
/// (a cleared cookie, `deckhand_session=;`, is not one).
pub fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("deckhand_session=") && !v.starts_with("deckhand_session=;"))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
}

/// The ids in a `chaos.fanout` result (`{"children": [...]}`), parsed.
pub fn children_in(result: &Value) -> Vec<String> {
    result["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

impl Api {
    pub fn new(host: &Host) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: host.api.clone(),
            token: None,
        }
    }

    /// A client of the API at `base` (`http://127.0.0.1:8080`), with a token.
    pub fn at(base: &str, token: Option<&str>) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: base.to_string(),
            token: token.map(str::to_string),
        }
    }

    /// GET `path`; `None` while nothing answers (a host still starting).
    pub async fn try_get(&self, path: &str) -> Option<(u16, Value)> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.json().await.unwrap_or(Value::Null)))
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn raw(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a body of `len` spaces over a plain socket and reads the
    /// answer. A server answers a body too large before reading all of it
    /// and closes the connection; an HTTP client then reports the failed
    /// write, not the answer. Here the body is written beside the read, and
    /// a write cut short is expected.
    pub async fn oversized(&self, path: &str, len: usize) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             content-length: {len}\r\nconnection: close\r\n\r\n"
        );
        let write = tokio::spawn(async move {
            writer.write_all(head.as_bytes()).await?;
            let chunk = vec![b' '; 64 * 1024];
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len());
                writer.write_all(&chunk[..n]).await?;
                left -= n;
            }
            writer.shutdown().await
        });
        let mut answer = Vec::new();
        // A reset after the whole answer arrived ends the read, not the test.
        let _ = reader.read_to_end(&mut answer).await;
        write.abort();
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    pub async fn text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits until the host answers and has registered its job types.
    pub async fn ready(&self, host: &Host) {
        for _ in 0..600 {
            if let Ok(r) = self.http.get(format!("{}/health", self.base)).send().await
                && r.status().is_success()
            {
                let (_, plugins) = self.get("/v1/plugins").await;
                if plugins["plugins"].as_array().is_some_and(|p| !p.is_empty()) {
                    // Registration happens on the first loop tick.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("API at {} never came up:\n{}", self.base, host.log());
    }

    pub async fn wait(&self, ids: &[&str]) -> Vec<Value> {
        let (status, body) = self
            .post("/v1/jobs/wait", json!({ "ids": ids, "timeout_secs": 60 }))
            .await;
        assert_eq!(status, 200, "{body}");
        body["jobs"].as_array().unwrap().clone()
    }

    /// POSTs `body` until it is accepted (200 or 201), through an outage:
    /// only 503 may refuse it meanwhile, for at most `limit`.
    pub async fn post_through_outage(&self, path: &str, body: &Value, limit: Duration) -> Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let (status, answer) = self.post(path, body.clone()).await;
            if status == 200 || status == 201 {
                return answer;
            }
            assert_eq!(status, 503, "only outages may refuse {path}: {answer}");
            assert!(
                std::time::Instant::now() < deadline,
                "{path} refused for {limit:?}: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Submits an `echo` job for each id (`{"id": id}`), waits for them,
    /// and asserts every one completed.
    pub async fn run_echo(&self, ids: &[String]) {
        for id in ids {
            let (status, body) = self
                .post(
                    "/v1/jobs",
                    json!({"job_type": "echo", "payload": {"id": id}, "id": id}),
                )
                .await;
            assert_eq!(status, 201, "{id}: {body}");
        }
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let done = self.wait(&id_refs).await;
        assert!(done.iter().all(|j| j["status"] == "completed"), "{done:?}");
    }
}
