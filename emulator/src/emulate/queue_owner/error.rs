//! Error replies: a non-2xx status with an `AlienError` JSON body (published-3.3.49.md §4.3).
//!
//! The client decodes every non-2xx body as `AlienError<ErrorData>` and hands it to the app
//! unchanged, so the body carries the required `retryable` and `internal`, the HTTP status
//! again as `httpStatusCode`, and never `_error_for_pattern_matching` (which the client would
//! have to decode as its own `ErrorData`). For upstream's codes the message is upstream's
//! template and `context` holds the template's fields with snake_case names.

use alien_providers::{ErrorKind, ProviderError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::BODY_LIMIT;
use super::wire::Operation;

/// `binding_type` of upstream's owner-side `BINDING_SETUP_FAILED` errors (§4.5).
const BINDING_TYPE: &str = "queue.local";

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum OwnerError {
    /// No `Authorization: Bearer <token>` with this queue's token (§4.3).
    #[error("Local queue credential is missing or invalid")]
    Unauthorized,
    /// The caller's permissions do not allow the operation (the platform's IAM refusal,
    /// wrapped as the provider wraps cloud errors: `Queue operation '<op>' failed: …`).
    #[error("Queue operation '{}' failed: {denied}", operation.as_str())]
    Denied {
        operation: Operation,
        denied: super::super::iam::Denied,
    },
    /// The path names a queue this owner does not serve.
    #[error("Queue '{0}' is not served by this queue owner")]
    UnknownQueue(String),
    /// The body is over the route limit (§4.1); the declared length, if there was one.
    #[error("{}", too_large_message(*.0))]
    BodyTooLarge(Option<u64>),
    /// The body is not a valid request (§4.2).
    #[error("decode local queue request: Invalid input - {0}")]
    Decode(String),
    /// The engine refused the operation.
    #[error("{}", engine_error(*.operation, .source).message)]
    Engine {
        operation: Operation,
        source: ProviderError,
    },
    /// The change could not be written to the state file, so it is not confirmed (the app's
    /// client sees an internal, retryable error).
    #[error("{0}")]
    Store(crate::emulate::state::store::StoreError),
}

fn too_large_message(declared: Option<u64>) -> String {
    match declared {
        Some(n) => {
            format!(
                "Request body of {n} bytes exceeds the local queue route limit of {BODY_LIMIT} bytes"
            )
        }
        None => format!("Request body exceeds the local queue route limit of {BODY_LIMIT} bytes"),
    }
}

/// The JSON body of an error reply: upstream's `AlienError` (camelCase).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AlienError {
    pub code: String,
    pub message: String,
    pub retryable: bool,
    pub internal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    pub http_status_code: u16,
}

impl AlienError {
    /// The app-side `Display`, `"<code>: <message>"` (§4.3), used for per-item failures.
    pub(super) fn display(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

impl OwnerError {
    pub(super) fn to_alien(&self) -> AlienError {
        let plain = |code: &str, status: StatusCode| AlienError {
            code: code.to_owned(),
            message: self.to_string(),
            retryable: false,
            internal: false,
            context: None,
            http_status_code: status.as_u16(),
        };
        match self {
            OwnerError::Unauthorized => plain("LOCAL_QUEUE_UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            OwnerError::UnknownQueue(_) => plain(
                ErrorKind::NotFound.default_code(),
                status_of_kind(&ErrorKind::NotFound),
            ),
            OwnerError::BodyTooLarge(_) => {
                let kind = ErrorKind::PayloadTooLarge {
                    size: 0,
                    limit: BODY_LIMIT as u64,
                };
                plain(kind.default_code(), status_of_kind(&kind))
            }
            OwnerError::Decode(details) => AlienError {
                context: Some(json!({
                    "operation_context": DECODE_CONTEXT,
                    "details": details,
                })),
                ..plain("INVALID_INPUT", StatusCode::BAD_REQUEST)
            },
            OwnerError::Denied { operation, denied } => AlienError {
                context: Some(json!({
                    "operation": operation.as_str(),
                    "reason": denied.to_string(),
                })),
                ..plain(
                    "QUEUE_OPERATION_FAILED",
                    StatusCode::from_u16(denied.status).unwrap_or(StatusCode::FORBIDDEN),
                )
            },
            OwnerError::Engine { operation, source } => engine_error(*operation, source),
            OwnerError::Store(_) => AlienError {
                retryable: true,
                internal: true,
                ..plain("INTERNAL_ERROR", StatusCode::INTERNAL_SERVER_ERROR)
            },
        }
    }
}

/// `operation_context` of a malformed request.
const DECODE_CONTEXT: &str = "decode local queue request";

impl IntoResponse for OwnerError {
    fn into_response(self) -> Response {
        let body = self.to_alien();
        let status = StatusCode::from_u16(body.http_status_code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(body)).into_response();
        if matches!(self, OwnerError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// An engine error as upstream's owner would report it from `operation` (§4.3 table):
/// status and retryability follow the code, so `QUEUE_OPERATION_FAILED` is 502 and
/// retryable on the wire even for a stale receipt (the engine's own `retryable()` is the
/// kind's, false for a stale receipt). Codes upstream does not define keep the engine's
/// message and classification.
pub(super) fn engine_error(operation: Operation, err: &ProviderError) -> AlienError {
    let reason = err.message.as_str();
    let (message, status, retryable, context) = match err.code() {
        "LOCAL_QUEUE_UNAUTHORIZED" => (reason.to_owned(), StatusCode::UNAUTHORIZED, false, None),
        "LOCAL_QUEUE_OWNER_NOT_READY" => (
            reason.to_owned(),
            StatusCode::SERVICE_UNAVAILABLE,
            true,
            None,
        ),
        "QUEUE_OPERATION_FAILED" => (
            format!("Queue operation '{}' failed: {reason}", operation.as_str()),
            StatusCode::BAD_GATEWAY,
            true,
            Some(json!({"operation": operation.as_str(), "reason": reason})),
        ),
        "INVALID_INPUT" => {
            let operation_context = input_context(operation);
            (
                format!("{operation_context}: Invalid input - {reason}"),
                StatusCode::BAD_REQUEST,
                false,
                Some(json!({"operation_context": operation_context, "details": reason})),
            )
        }
        "BINDING_SETUP_FAILED" => (
            format!("Binding setup failed for type '{BINDING_TYPE}': {reason}"),
            StatusCode::INTERNAL_SERVER_ERROR,
            false,
            Some(json!({"binding_type": BINDING_TYPE, "reason": reason})),
        ),
        _ => (
            reason.to_owned(),
            status_of_kind(&err.kind),
            err.retryable(),
            None,
        ),
    };
    AlienError {
        code: err.code().to_owned(),
        message,
        retryable,
        internal: err.kind == ErrorKind::Internal,
        context,
        http_status_code: status.as_u16(),
    }
}

/// `operation_context` of an `INVALID_INPUT` error; upstream's text for renew (§4.5).
fn input_context(operation: Operation) -> String {
    match operation {
        Operation::Renew => "renew queue lease".to_owned(),
        other => format!("local queue {}", other.as_str()),
    }
}

/// HTTP status of an engine error whose code upstream's owner never returns.
fn status_of_kind(kind: &ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists => StatusCode::CONFLICT,
        ErrorKind::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorKind::StaleReceipt => StatusCode::BAD_GATEWAY,
        ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §4.3: LOCAL_QUEUE_UNAUTHORIZED is a unit variant: no context.
    #[test]
    fn unauthorized_body() {
        assert_eq!(
            serde_json::to_value(OwnerError::Unauthorized.to_alien()).unwrap(),
            json!({"code": "LOCAL_QUEUE_UNAUTHORIZED",
                   "message": "Local queue credential is missing or invalid",
                   "retryable": false, "internal": false, "httpStatusCode": 401})
        );
    }

    #[test]
    fn engine_unauthorized_matches_the_owners_own() {
        let err = engine_error(Operation::Ack, &ProviderError::queue_unauthorized());
        assert_eq!(err, OwnerError::Unauthorized.to_alien());
    }

    #[test]
    fn owner_not_ready_is_503_retryable() {
        let err = engine_error(
            Operation::Receive,
            &ProviderError::queue_owner_not_ready("dep"),
        );
        assert_eq!((err.http_status_code, err.retryable), (503, true));
    }

    #[test]
    fn codes_without_a_template_follow_the_kind() {
        let err = engine_error(
            Operation::Send,
            &ProviderError::new(ErrorKind::Internal, "boom"),
        );
        assert_eq!(
            (
                err.code.as_str(),
                err.message.as_str(),
                err.http_status_code
            ),
            ("INTERNAL", "boom", 500)
        );
        assert!(err.retryable && err.internal && err.context.is_none());
    }

    #[test]
    fn display_is_code_then_message() {
        let err = engine_error(Operation::Ack, &ProviderError::stale_receipt(3));
        assert!(
            err.display()
                .starts_with("QUEUE_OPERATION_FAILED: Queue operation 'ack' failed: stale receipt handle for message 3")
        );
    }

    #[test]
    fn body_too_large_is_413() {
        let err = OwnerError::BodyTooLarge(None).to_alien();
        assert_eq!(
            (err.code.as_str(), err.http_status_code),
            ("PAYLOAD_TOO_LARGE", 413)
        );
        assert_eq!(
            err.message,
            "Request body exceeds the local queue route limit of 8388608 bytes"
        );
    }
}
