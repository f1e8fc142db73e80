//! The JSON of the commands protocol, camelCase as upstream's `commands_types.rs`
//! (upstream-runtime-and-bindings.md §5.1; published-3.3.49.md §10). Requests are read
//! leniently (unknown fields such as `operationResultContract` or `traceContext` are
//! ignored); replies carry exactly upstream's field names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{CommandState, CommandStatus};

/// `COMMANDS_PROTOCOL_VERSION`.
pub const PROTOCOL: &str = "arc.v1";

/// `CommandTarget{resourceId, resourceType}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub resource_id: String,
    pub resource_type: String,
}

/// A `BodySpec` as a client sends it: inline base64, or a storage reference whose bytes
/// were uploaded through a presigned request the server handed out.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    tag = "mode",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum BodyIn {
    Inline { inline_base64: String },
    Storage { size: Option<u64> },
}

/// A `BodySpec` as the server sends it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "mode",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum BodyOut {
    Inline {
        inline_base64: String,
    },
    Storage {
        size: u64,
        storage_get_request: PresignedRequest,
        /// The bytes were put in storage (always, here: the server or the receiver did).
        storage_put_used: bool,
    },
}

/// `PresignedRequest` with the `local` backend (published §5.1, §10): the holder reads or
/// writes `filePath` itself; there is no URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignedRequest {
    pub backend: LocalBackend,
    pub expiration: DateTime<Utc>,
    pub operation: Operation,
    pub path: String,
}

/// `{type:"local", filePath, operation}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "local", rename_all = "camelCase")]
pub struct LocalBackend {
    pub file_path: String,
    pub operation: Operation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Get,
    Put,
}

/// `CreateCommandRequest`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCommandRequest {
    pub deployment_id: String,
    pub command: String,
    pub params: BodyIn,
    pub deadline: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub target_resource_id: Option<String>,
}

/// `CreateCommandResponse` (with 3.3.49's `created`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCommandResponse {
    pub command_id: String,
    pub created: bool,
    pub state: CommandState,
    pub inline_allowed_up_to: u64,
    /// What the caller does next: `poll` (upstream's `upload` needs the upload flow).
    pub next: &'static str,
}

/// `CommandResponse`, tagged by `status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "status",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum ResponseOut {
    Success {
        response: BodyOut,
    },
    Error {
        code: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        details: Option<Value>,
    },
}

/// `SubmitResponseRequest`: the flattened `CommandResponse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum SubmitResponseRequest {
    Success {
        response: BodyIn,
    },
    Error {
        code: String,
        message: String,
        #[serde(default)]
        details: Option<Value>,
    },
}

/// `CommandStatusResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandStatusResponse {
    pub command_id: String,
    pub state: CommandState,
    pub attempt: u32,
    pub target: Target,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseOut>,
}

/// `LeaseRequest` (maxLeases default 1, leaseSeconds default 60).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseRequest {
    pub deployment_id: String,
    pub target: Target,
    #[serde(default = "one")]
    pub max_leases: usize,
    #[serde(default = "sixty")]
    pub lease_seconds: u64,
}

fn one() -> usize {
    1
}

fn sixty() -> u64 {
    60
}

/// `LeaseResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaseResponse {
    pub leases: Vec<LeaseInfo>,
}

/// `LeaseInfo`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseInfo {
    pub lease_id: String,
    pub lease_expires_at: DateTime<Utc>,
    pub command_id: String,
    pub attempt: u32,
    pub envelope: Envelope,
}

/// `Envelope` (no `traceContext`: the emulator has none to propagate).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub protocol: &'static str,
    pub deployment_id: String,
    pub target: Target,
    pub command_id: String,
    pub attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    pub command: String,
    pub params: BodyOut,
    pub response_handling: ResponseHandling,
}

/// `ResponseHandling`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseHandling {
    pub max_inline_bytes: u64,
    pub submit_response_url: String,
    pub storage_upload_request: PresignedRequest,
}

/// The reply to a release or a response: where the command stands now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateReply {
    pub command_id: String,
    pub state: CommandState,
    pub attempt: u32,
}

impl From<CommandStatus> for StateReply {
    fn from(status: CommandStatus) -> StateReply {
        StateReply {
            command_id: status.command_id,
            state: status.state,
            attempt: status.attempt,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    /// published §10: `BodySpec` is tagged by `mode`; `PresignedRequest` with the local
    /// backend is `{backend:{type:"local", filePath, operation}, expiration, operation, path}`.
    #[test]
    fn storage_body_shape() {
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 1, 0, 0).unwrap();
        let body = BodyOut::Storage {
            size: 7,
            storage_get_request: PresignedRequest {
                backend: LocalBackend {
                    file_path: "/tmp/p".into(),
                    operation: Operation::Get,
                },
                expiration: at,
                operation: Operation::Get,
                path: "arc/commands/cmd-1/params".into(),
            },
            storage_put_used: true,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"mode": "storage", "size": 7, "storageGetRequest": {
                "backend": {"type": "local", "filePath": "/tmp/p", "operation": "get"},
                "expiration": "2026-01-05T01:00:00Z", "operation": "get",
                "path": "arc/commands/cmd-1/params"}, "storagePutUsed": true})
        );
    }

    /// §5.1: `SubmitResponseRequest` is the flattened `CommandResponse`, tagged by `status`.
    #[test]
    fn submit_requests_parse() {
        let success: SubmitResponseRequest = serde_json::from_value(
            json!({"status": "success", "response": {"mode": "inline", "inlineBase64": "e30="}}),
        )
        .unwrap();
        assert_eq!(
            success,
            SubmitResponseRequest::Success {
                response: BodyIn::Inline {
                    inline_base64: "e30=".into()
                }
            }
        );
        let uploaded: SubmitResponseRequest = serde_json::from_value(json!({"status": "success",
            "response": {"mode": "storage", "size": 9, "storagePutUsed": true}}))
        .unwrap();
        assert_eq!(
            uploaded,
            SubmitResponseRequest::Success {
                response: BodyIn::Storage { size: Some(9) }
            }
        );
        let error: SubmitResponseRequest = serde_json::from_value(
            json!({"status": "error", "code": "HANDLER_ERROR", "message": "boom"}),
        )
        .unwrap();
        assert_eq!(
            error,
            SubmitResponseRequest::Error {
                code: "HANDLER_ERROR".into(),
                message: "boom".into(),
                details: None
            }
        );
    }

    /// §5.1: `LeaseRequest` defaults maxLeases to 1 and leaseSeconds to 60.
    #[test]
    fn lease_request_defaults() {
        let request: LeaseRequest = serde_json::from_value(json!({"deploymentId": "d",
            "target": {"resourceId": "agent", "resourceType": "daemon"}}))
        .unwrap();
        assert_eq!((request.max_leases, request.lease_seconds), (1, 60));
    }
}
