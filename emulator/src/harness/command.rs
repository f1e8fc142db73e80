//! `Harness::command`: a command to a command-enabled worker or daemon through the manager's
//! commands API (upstream-runtime-and-bindings.md §5), waited for until it ends.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Harness, HarnessError};
use crate::emulate::commands_api::{CommandsClient, base64};

/// How often the state is read, and how long (real time) the app gets to answer.
const POLL: Duration = Duration::from_millis(50);
const PATIENCE: Duration = Duration::from_secs(30);

/// How a command ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    /// `SUCCEEDED`, `FAILED` or `EXPIRED`.
    pub state: String,
    pub attempt: u64,
    /// The app's answer (JSON when it parses, else a string) when it succeeded.
    pub response: Option<Value>,
    /// `CODE: message` when it failed or expired.
    pub error: Option<String>,
}

impl Harness {
    /// Sends command `name` with `params` to `target` and waits (up to 30 s of real time) for
    /// its final state.
    pub async fn command(
        &self,
        target: &str,
        name: &str,
        params: Value,
    ) -> Result<CommandOutcome, HarnessError> {
        let status = self.client.status().await?;
        let deployment = status["stack"].as_str().unwrap_or_default().to_string();
        let commands = CommandsClient::new(self.control_url(), deployment);
        let id = commands.create(target, name, &params, None).await?;
        let started = Instant::now();
        loop {
            let status = commands.status(&id).await?;
            let state = status["state"].as_str().unwrap_or_default().to_string();
            let attempt = status["attempt"].as_u64().unwrap_or_default();
            match state.as_str() {
                "SUCCEEDED" => {
                    let bytes = status["response"]["response"]["inlineBase64"]
                        .as_str()
                        .and_then(|b| base64::decode(b).ok())
                        .unwrap_or_default();
                    let response = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(&bytes).into_owned())
                    });
                    return Ok(CommandOutcome {
                        state,
                        attempt,
                        response: Some(response),
                        error: None,
                    });
                }
                "FAILED" | "EXPIRED" => {
                    let response = &status["response"];
                    let error = format!(
                        "{}: {}",
                        response["code"].as_str().unwrap_or("COMMAND_EXPIRED"),
                        response["message"].as_str().unwrap_or("deadline passed")
                    );
                    return Ok(CommandOutcome {
                        state,
                        attempt,
                        response: None,
                        error: Some(error),
                    });
                }
                _ if started.elapsed() > PATIENCE => {
                    return Err(HarnessError::CommandPending {
                        id,
                        state,
                        waited: PATIENCE,
                    });
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }
}
