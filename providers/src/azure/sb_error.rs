//! The one place where Service Bus REST failures become [`ProviderError`]s.
//!
//! Status meanings per operation come from the Service Bus REST reference (Microsoft Learn):
//! "Send Message" (403 quota exceeded or message too large, 410 no such queue),
//! "Peek-Lock Message (Non-Destructive Read)" (204 nothing, 410 no such queue), "Unlock
//! Message" / "Delete Message" / "Renew-Lock for a Message" (404 no message with that
//! MessageId or LockToken, 410 no such queue), "Create Entity" (409 conflict) and "Get Entity"
//! (404). Error bodies are `<Error><Code>…</Code><Detail>…</Detail></Error>`.

use crate::error::{ErrorKind, ProviderError};

/// Largest message of a Standard namespace, 256 KB ("Service Bus quotas", Microsoft Learn).
pub const STANDARD_MAX_MESSAGE_BYTES: u64 = 256 * 1024;

/// The REST operation that failed; decides what an ambiguous status means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceBusOp {
    /// `Send Message` carrying `bytes` of body.
    Send {
        /// Body size sent.
        bytes: u64,
    },
    /// `Peek-Lock Message` or `Receive and Delete Message` (purge).
    Receive,
    /// Delete (complete), unlock (abandon) or renew-lock of the lock of message `message`.
    Settle {
        /// The message reference of the lock URI (sequence number or message id).
        message: String,
    },
    /// `Create Entity` or `Get Entity` on the management API.
    Manage,
}

/// Why a Service Bus call failed: the service answered with a non-success status, or the
/// request never got an answer.
#[derive(Debug)]
pub enum ServiceBusFailure {
    /// The service answered `status` with `body`.
    Status {
        /// HTTP status code.
        status: u16,
        /// Response body (an `<Error>` document, or empty).
        body: String,
    },
    /// Connecting, sending or reading failed.
    Transport(azure_core::Error),
}

/// Turns a failed Service Bus call into a [`ProviderError`]. `action` prefixes the message.
///
/// 400 → `InvalidArgument`; 401 → `PermissionDenied` (the SAS policy); 403 on send →
/// `PayloadTooLarge` when the body exceeds 256 KB, else `Throttled` (quota exceeded),
/// elsewhere `PermissionDenied`; 404 → `StaleReceipt` for a lock operation (the lock expired,
/// the message was settled or redelivered under another lock), else `NotFound`; 409 →
/// `AlreadyExists`; 410 → `NotFound` (the queue does not exist); 413 → `PayloadTooLarge`;
/// 408/504 → `Timeout`; 429 → `Throttled`; 503 → `Unavailable`; anything else → `Internal`.
/// Transport failures are `Unavailable`.
pub fn map_service_bus_error(
    action: &str,
    op: &ServiceBusOp,
    failure: ServiceBusFailure,
) -> ProviderError {
    let (status, body) = match failure {
        ServiceBusFailure::Status { status, body } => (status, body),
        ServiceBusFailure::Transport(err) => {
            return ProviderError::new(
                ErrorKind::Unavailable,
                format!("{action}: transport failure: {err}"),
            )
            .with_source(err);
        }
    };
    let detail = error_detail(&body);
    let message = format!("{action}: {status}: {detail}");
    let denied = || ErrorKind::PermissionDenied {
        permission: match op {
            ServiceBusOp::Send { .. } => "servicebus: Send".to_owned(),
            ServiceBusOp::Receive | ServiceBusOp::Settle { .. } => "servicebus: Listen".to_owned(),
            ServiceBusOp::Manage => "servicebus: Manage".to_owned(),
        },
    };
    let too_large = |bytes: u64| ErrorKind::PayloadTooLarge {
        size: bytes,
        limit: STANDARD_MAX_MESSAGE_BYTES,
    };
    let kind = match (status, op) {
        (400, _) => ErrorKind::InvalidArgument,
        (401, _) => denied(),
        (403, ServiceBusOp::Send { bytes }) if *bytes > STANDARD_MAX_MESSAGE_BYTES => {
            too_large(*bytes)
        }
        (403, ServiceBusOp::Send { .. }) => ErrorKind::Throttled,
        (403, _) => denied(),
        (404, ServiceBusOp::Settle { message }) => {
            let stale = ProviderError::stale_receipt(message);
            return ProviderError::new(
                ErrorKind::StaleReceipt,
                format!("{} ({message})", stale.message),
            );
        }
        (404 | 410, _) => ErrorKind::NotFound,
        (409, _) => ErrorKind::AlreadyExists,
        (413, ServiceBusOp::Send { bytes }) => too_large(*bytes),
        (413, _) => too_large(0),
        (408 | 504, _) => ErrorKind::Timeout,
        (429, _) => ErrorKind::Throttled,
        (503, _) => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    ProviderError::new(kind, message)
}

/// The `<Detail>` text of an error body, else the body itself (trimmed, one line).
fn error_detail(body: &str) -> String {
    let detail = body
        .find("<Detail>")
        .and_then(|start| {
            let rest = &body[start + "<Detail>".len()..];
            rest.find("</Detail>").map(|end| &rest[..end])
        })
        .unwrap_or(body);
    detail.lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_extracted_from_the_error_document() {
        let body = "<Error><Code>401</Code><Detail>InvalidSignature: The token has an invalid \
                    signature.</Detail></Error>";
        assert_eq!(
            error_detail(body),
            "InvalidSignature: The token has an invalid signature."
        );
        assert_eq!(error_detail(""), "");
    }
}
