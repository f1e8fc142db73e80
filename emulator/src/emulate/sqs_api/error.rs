//! SQS errors as the AWS JSON 1.0 protocol sends them (SQS API reference, "Common Errors"
//! and each action's "Errors"; SQS developer guide, "Amazon SQS JSON API error
//! responses"): the status, `x-amzn-query-error: <legacy code>;Sender` (what the SDKs report
//! as the code) and `{"__type": "com.amazonaws.sqs#<Shape>", "message": …}`.

use alien_providers::{ErrorKind, ProviderError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::wire::CONTENT_TYPE;
use crate::engine::SimError;

/// One failed SQS call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shape}: {message}")]
pub struct SqsError {
    pub status: StatusCode,
    /// The error shape of the Smithy model (`QueueDoesNotExist`).
    pub shape: &'static str,
    /// The legacy query code (`AWS.SimpleQueueService.NonExistentQueue`).
    pub code: &'static str,
    /// Whether the caller is at fault (`Sender`) or the service (`Receiver`).
    pub sender_fault: bool,
    pub message: String,
}

impl SqsError {
    fn sender(shape: &'static str, code: &'static str, message: impl Into<String>) -> SqsError {
        SqsError {
            status: StatusCode::BAD_REQUEST,
            shape,
            code,
            sender_fault: true,
            message: message.into(),
        }
    }

    fn receiver(status: StatusCode, shape: &'static str, message: impl Into<String>) -> SqsError {
        SqsError {
            status,
            shape,
            code: shape,
            sender_fault: false,
            message: message.into(),
        }
    }

    /// `QueueDoesNotExist` with SQS's text, naming the queue and the ones there are.
    pub fn no_queue(name: &str, known: &[String]) -> SqsError {
        SqsError::sender(
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            format!(
                "The specified queue does not exist: '{name}' (queues: {})",
                known.join(", ")
            ),
        )
    }

    pub fn invalid_parameter(message: impl Into<String>) -> SqsError {
        SqsError::sender("InvalidParameterValue", "InvalidParameterValue", message)
    }

    pub fn missing_parameter(name: &str) -> SqsError {
        SqsError::sender(
            "MissingParameter",
            "MissingParameter",
            format!("The request must contain the parameter {name}."),
        )
    }

    pub fn invalid_attribute_name(message: impl Into<String>) -> SqsError {
        SqsError::sender("InvalidAttributeName", "InvalidAttributeName", message)
    }

    pub fn invalid_attribute_value(message: impl Into<String>) -> SqsError {
        SqsError::sender("InvalidAttributeValue", "InvalidAttributeValue", message)
    }

    pub fn receipt_invalid(handle: &str) -> SqsError {
        SqsError::sender(
            "ReceiptHandleIsInvalid",
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    }

    /// The change could not be written to the state file: SQS's `InternalError` (500), which
    /// the SDKs retry.
    pub fn not_saved(err: &crate::emulate::state::store::StoreError) -> SqsError {
        SqsError::receiver(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("The request could not be saved: {err}"),
        )
    }

    pub fn unknown_operation(operation: &str) -> SqsError {
        SqsError::sender(
            "UnknownOperationException",
            "InvalidAction",
            format!("The action {operation} is not valid for this endpoint."),
        )
    }

    pub fn empty_batch() -> SqsError {
        SqsError::sender(
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            "There should be at least one entry in the request.",
        )
    }

    pub fn too_many_entries(count: usize) -> SqsError {
        SqsError::sender(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!("Maximum number of entries per request are 10. You have sent {count}."),
        )
    }

    pub fn ids_not_distinct(id: &str) -> SqsError {
        SqsError::sender(
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            format!("Id {id} repeated."),
        )
    }

    /// SendMessageBatch over the total payload limit.
    pub fn batch_too_long(total: u64, limit: u64) -> SqsError {
        SqsError::sender(
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
            format!(
                "Batch requests cannot be longer than {limit} bytes. You have sent {total} bytes."
            ),
        )
    }

    /// An engine failure on `queue`, as SQS would report it.
    pub fn from_sim(err: SimError, queue: &str, known: &[String]) -> SqsError {
        match err {
            SimError::UnknownResource { .. } => SqsError::no_queue(queue, known),
            SimError::Provider(err) => SqsError::from_provider(err, queue, known),
            SimError::Invalid(message) => SqsError::invalid_parameter(message),
            SimError::StepLimit(_) => SqsError::receiver(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                err.to_string(),
            ),
        }
    }

    fn from_provider(err: ProviderError, queue: &str, known: &[String]) -> SqsError {
        match err.kind {
            // SendMessage: "Message must be shorter than 262144 bytes." (the limit is what
            // our adapter reads back into PayloadTooLarge).
            ErrorKind::PayloadTooLarge { limit, .. } => SqsError::invalid_parameter(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than \
                 {limit} bytes."
            )),
            ErrorKind::StaleReceipt => SqsError::sender(
                "ReceiptHandleIsInvalid",
                "ReceiptHandleIsInvalid",
                err.message,
            ),
            ErrorKind::NotFound => SqsError::no_queue(queue, known),
            ErrorKind::InvalidArgument | ErrorKind::Unsupported => {
                SqsError::invalid_parameter(err.message)
            }
            ErrorKind::Throttled => SqsError::sender(
                "RequestThrottled",
                "AWS.SimpleQueueService.RequestThrottled",
                err.message,
            ),
            ErrorKind::Timeout | ErrorKind::Unavailable => SqsError::receiver(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                err.message,
            ),
            _ => SqsError::receiver(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                err.message,
            ),
        }
    }
}

impl IntoResponse for SqsError {
    fn into_response(self) -> Response {
        let fault = if self.sender_fault {
            "Sender"
        } else {
            "Receiver"
        };
        let body = json!({
            "__type": format!("com.amazonaws.sqs#{}", self.shape),
            "message": self.message,
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Ok(value) = HeaderValue::from_str(&format!("{};{fault}", self.code)) {
            headers.insert("x-amzn-query-error", value);
        }
        response
    }
}
