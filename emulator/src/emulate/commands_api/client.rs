//! The CLI's client of the commands API: create a command and read its status, over the
//! control listener (`alien emulate`'s loopback port).

use std::time::Duration;

use serde_json::{Value, json};

use super::base64;
use super::payloads::after;

#[derive(Debug, thiserror::Error)]
pub enum CommandsClientError {
    #[error("cannot reach the emulator at {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("the emulator answered {status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected answer from {url}: {detail}")]
    Decode { url: String, detail: String },
}

/// A client of the commands routes at `base` (e.g. `http://127.0.0.1:7070`).
#[derive(Debug, Clone)]
pub struct CommandsClient {
    base: String,
    deployment_id: String,
    http: reqwest::Client,
}

impl CommandsClient {
    /// `deployment_id` must be the emulator's (`CommandsApiConfig::deployment_id`).
    pub fn new(base: impl Into<String>, deployment_id: impl Into<String>) -> CommandsClient {
        CommandsClient {
            base: base.into().trim_end_matches('/').to_string(),
            deployment_id: deployment_id.into(),
            http: reqwest::Client::new(),
        }
    }

    /// Creates command `name` for `target` with JSON `params`; returns its id. A deadline is
    /// counted from the emulator's own clock (`GET /status` → `now`), which time travel and
    /// `--time-scale` move away from the wall clock.
    pub async fn create(
        &self,
        target: &str,
        name: &str,
        params: &Value,
        deadline: Option<Duration>,
    ) -> Result<String, CommandsClientError> {
        let mut body = json!({
            "deploymentId": self.deployment_id,
            "command": name,
            "targetResourceId": target,
            "params": {"mode": "inline", "inlineBase64": base64::encode(params.to_string().as_bytes())},
        });
        if let Some(d) = deadline {
            let status = self.get("/status").await?;
            let now = status
                .get("now")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .ok_or_else(|| CommandsClientError::Decode {
                    url: self.url("/status"),
                    detail: "no RFC 3339 `now`".into(),
                })?;
            body["deadline"] = json!(after(now.to_utc(), d));
        }
        let url = self.url("/commands");
        let reply = self.send(self.http.post(&url).json(&body), &url).await?;
        reply
            .get("commandId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(CommandsClientError::Decode {
                url,
                detail: format!("no `commandId` in {reply}"),
            })
    }

    /// `GET /commands/{id}`: the `CommandStatusResponse` JSON.
    pub async fn status(&self, command_id: &str) -> Result<Value, CommandsClientError> {
        self.get(&format!("/commands/{}", encode_segment(command_id)))
            .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> Result<Value, CommandsClientError> {
        let url = self.url(path);
        self.send(self.http.get(&url), &url).await
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<Value, CommandsClientError> {
        let transport = |source| CommandsClientError::Transport {
            url: url.to_string(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let text = response.text().await.map_err(transport)?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let field = |name: &str| {
                json.as_ref()
                    .and_then(|j| j.get(name))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            return Err(CommandsClientError::Api {
                status: status.as_u16(),
                code: field("code").unwrap_or_default(),
                message: field("message").or_else(|| field("error")).unwrap_or(text),
            });
        }
        json.ok_or_else(|| CommandsClientError::Decode {
            url: url.to_string(),
            detail: format!("not JSON: {text}"),
        })
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
