//! [`ControlClient`], the CLI's client of the control API (`alien emulate
//! send|peek|put|fire|advance|trace …`).

use std::time::Duration;

use alien_providers::Payload;
use alien_providers::validate::validate_storage_key;
use axum::http::header;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::trace::TraceLine;
use crate::emulate::state::snapshot::SnapshotInfo;

/// An object fetched through the control API.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedObject {
    pub body: Vec<u8>,
    pub content_type: String,
    pub etag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the control API at {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("the control API answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("unexpected answer from {url}: {detail}")]
    Decode { url: String, detail: String },
    #[error("invalid storage key {key:?}: {message}")]
    InvalidKey { key: String, message: String },
}

/// The CLI's client of the control API.
#[derive(Debug, Clone)]
pub struct ControlClient {
    base: String,
    http: reqwest::Client,
}

impl ControlClient {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:7070`).
    pub fn new(base: impl Into<String>) -> ControlClient {
        ControlClient {
            base: base.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn status(&self) -> Result<Value, ClientError> {
        self.json(self.http.get(self.url("/status"))).await
    }

    /// `GET path` (relative to the API root) as JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        self.json(self.http.get(self.url(path))).await
    }

    /// `POST path` with a JSON body, answered with JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.json(self.http.post(self.url(path)).json(body)).await
    }

    /// Sends a message; returns its id.
    pub async fn send(&self, queue: &str, payload: &Payload) -> Result<String, ClientError> {
        let body = match payload {
            Payload::Json(value) => json!({ "json": value }),
            Payload::Text(text) => json!({ "text": text }),
        };
        let url = self.url(&format!("/queues/{}/messages", encode_segment(queue)));
        let reply = self.json(self.http.post(&url).json(&body)).await?;
        string_field(&reply, "id", &url)
    }

    /// Every message held by `queue`, without consuming.
    pub async fn peek(&self, queue: &str) -> Result<Vec<Value>, ClientError> {
        let url = self.url(&format!("/queues/{}/messages", encode_segment(queue)));
        self.json(self.http.get(url)).await
    }

    pub async fn dead_letters(&self, queue: &str) -> Result<Vec<Value>, ClientError> {
        let url = self.url(&format!("/queues/{}/dead-letters", encode_segment(queue)));
        self.json(self.http.get(url)).await
    }

    /// Puts an object; returns its etag. Unsafe keys are refused here: an HTTP client
    /// resolves `..` segments before sending, so they would reach another key.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<String, ClientError> {
        let url = self.object_url(bucket, key)?;
        let reply: Value = self
            .json(
                self.http
                    .put(&url)
                    .header(header::CONTENT_TYPE, content_type)
                    .body(body),
            )
            .await?;
        string_field(&reply, "etag", &url)
    }

    /// The object, or None when the bucket has no such key.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<FetchedObject>, ClientError> {
        let url = self.object_url(bucket, key)?;
        let response = self.call(self.http.get(&url), &url).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            // A missing object and a missing bucket are both 404: only the object is None.
            let message = api_message(response).await;
            if message.starts_with("no object ") {
                return Ok(None);
            }
            return Err(ClientError::Api {
                status: 404,
                message,
            });
        }
        let response = check(response).await?;
        let header_text = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let content_type = header_text(header::CONTENT_TYPE);
        let etag = header_text(header::ETAG);
        let body = response
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?
            .to_vec();
        Ok(Some(FetchedObject {
            body,
            content_type,
            etag,
        }))
    }

    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ClientError> {
        let url = self.object_url(bucket, key)?;
        let response = self.call(self.http.delete(&url), &url).await?;
        check(response).await.map(drop)
    }

    /// Fires schedule trigger `index` of `worker` now.
    pub async fn fire_cron(&self, worker: &str, index: usize) -> Result<(), ClientError> {
        let url = self.url(&format!("/crons/{}/{index}/fire", encode_segment(worker)));
        self.json::<Value>(self.http.post(url)).await.map(drop)
    }

    /// Advances the virtual clock by `by` (`1h30m`, `45s`); returns the new time.
    pub async fn advance(&self, by: &str) -> Result<DateTime<Utc>, ClientError> {
        let url = self.url("/clock/advance");
        let reply: Value = self
            .json(self.http.post(&url).json(&json!({ "by": by })))
            .await?;
        let now = string_field(&reply, "now", &url)?;
        now.parse().map_err(|e| ClientError::Decode {
            url,
            detail: format!("\"now\" is not a time: {e}"),
        })
    }

    /// Trace events with `seq > after` (all when None), waiting up to `wait` for the first.
    pub async fn trace_after(
        &self,
        after: Option<u64>,
        wait: Duration,
    ) -> Result<Vec<TraceLine>, ClientError> {
        let mut url = self.url(&format!("/trace?wait={}", wait.as_secs_f64()));
        if let Some(after) = after {
            url.push_str(&format!("&after={after}"));
        }
        self.json(self.http.get(url)).await
    }

    /// Takes snapshot `name` (replacing one of that name when `force`); answers once it is on
    /// disk, with what it holds.
    pub async fn save_snapshot(
        &self,
        name: &str,
        force: bool,
    ) -> Result<SnapshotInfo, ClientError> {
        let body = json!({ "name": name, "force": force });
        self.json(self.http.post(self.url("/snapshots")).json(&body))
            .await
    }

    /// Every snapshot of the emulator's state directory, oldest first.
    pub async fn snapshots(&self) -> Result<Vec<SnapshotInfo>, ClientError> {
        self.json(self.http.get(self.url("/snapshots"))).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn object_url(&self, bucket: &str, key: &str) -> Result<String, ClientError> {
        validate_storage_key(key).map_err(|e| ClientError::InvalidKey {
            key: key.to_string(),
            message: e.message,
        })?;
        let key = key
            .split('/')
            .map(encode_segment)
            .collect::<Vec<_>>()
            .join("/");
        Ok(self.url(&format!(
            "/storage/{}/objects/{key}",
            encode_segment(bucket)
        )))
    }

    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ClientError> {
        request
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.to_string(),
                source,
            })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = request
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: source.url().map(ToString::to_string).unwrap_or_default(),
                source,
            })?;
        let url = response.url().to_string();
        let response = check(response).await?;
        let text = response
            .text()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        serde_json::from_str(&text).map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }
}

async fn check(response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    Err(ClientError::Api {
        status,
        message: api_message(response).await,
    })
}

async fn api_message(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(text)
}

fn string_field(reply: &Value, field: &str, url: &str) -> Result<String, ClientError> {
    reply[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ClientError::Decode {
            url: url.to_string(),
            detail: format!("no string \"{field}\" in {reply}"),
        })
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("a b?c#d"), "a%20b%3Fc%23d");
        assert_eq!(encode_segment("ok-._~9"), "ok-._~9");
    }
}
