//! The one place where Google Cloud failures become [`ProviderError`]s.
//!
//! Pub/Sub, Cloud Storage and Cloud Scheduler report failures as a `google.rpc.Status`
//! (gRPC status, or the JSON `{"error":{"code","message","status"}}` of the HTTP APIs); the
//! crates surface it as [`google_cloud_pubsub::Error`] (the same `google-cloud-gax` type
//! for all three). Codes and their meaning: Google's API design guide, "Errors"
//! (cloud.google.com/apis/design/errors).

use std::borrow::Borrow;
use std::error::Error as StdError;

use google_cloud_pubsub::Error;

use crate::error::{ErrorKind, ProviderError};

/// Turns a failed call into a [`ProviderError`].
///
/// `action` is the IAM permission the call needs (`pubsub.topics.publish`); it prefixes the
/// message and is the permission reported for a denial unless the error names one.
/// `sent_bytes` is the payload size, reported in [`ErrorKind::PayloadTooLarge`]. `err` is
/// the crates' error or an `Arc` of it (the publisher shares one error among a batch).
pub fn map_gcp_error<E>(action: &str, sent_bytes: Option<u64>, err: E) -> ProviderError
where
    E: Borrow<Error> + StdError + Send + Sync + 'static,
{
    let (kind, message) = classify(action, sent_bytes, err.borrow());
    ProviderError::new(kind, message).with_source(err)
}

/// The kind and message of a failed call; see [`map_gcp_error`].
fn classify(action: &str, sent_bytes: Option<u64>, err: &Error) -> (ErrorKind, String) {
    if let Some(status) = err.status() {
        let code = status.code.name();
        let failure = Failure {
            action,
            code,
            text: &status.message,
            sent_bytes,
            permission: permission_in_details(err),
        };
        (failure.kind(), describe(action, code, &status.message))
    } else if err.is_timeout() {
        (
            ErrorKind::Timeout,
            format!("{action}: no response within the deadline: {err}"),
        )
    } else if err.is_authentication() {
        (
            ErrorKind::PermissionDenied {
                permission: action.to_owned(),
            },
            format!("{action}: no usable credentials: {err}"),
        )
    } else if err.is_connect() || err.is_io() || err.is_transport() {
        (
            ErrorKind::Unavailable,
            format!("{action}: could not reach the service: {err}"),
        )
    } else if let Some(status) = err.http_status_code() {
        (
            kind_for_http_status(status),
            format!("{action}: HTTP {status}: {err}"),
        )
    } else {
        (ErrorKind::Internal, format!("{action}: {err}"))
    }
}

/// `"{action}: {CODE}: {text}"`, without the last part when there is no text.
fn describe(action: &str, code: &str, text: &str) -> String {
    if text.is_empty() {
        format!("{action}: {code}")
    } else {
        format!("{action}: {code}: {text}")
    }
}

/// The `permission` entry of an `ErrorInfo` detail (IAM denials carry one, e.g.
/// `reason: IAM_PERMISSION_DENIED, metadata.permission: pubsub.topics.publish`). Read through
/// the status's JSON form: the detail types live in crates this one does not depend on.
fn permission_in_details(err: &Error) -> Option<String> {
    let status = serde_json::to_value(err.status()?).ok()?;
    status["details"]
        .as_array()?
        .iter()
        .find_map(|detail| detail["metadata"]["permission"].as_str().map(str::to_owned))
}

/// The canonical code's HTTP mapping, for an HTTP error without a parsable status
/// (google.rpc.Code docs).
fn kind_for_http_status(status: u16) -> ErrorKind {
    match status {
        400 => ErrorKind::InvalidArgument,
        401 | 403 => ErrorKind::PermissionDenied {
            permission: String::new(),
        },
        404 => ErrorKind::NotFound,
        409 => ErrorKind::AlreadyExists,
        412 => ErrorKind::PreconditionFailed,
        413 => ErrorKind::PayloadTooLarge { size: 0, limit: 0 },
        429 => ErrorKind::Throttled,
        501 => ErrorKind::Unsupported,
        503 => ErrorKind::Unavailable,
        504 => ErrorKind::Timeout,
        _ => ErrorKind::Internal,
    }
}

/// What a `google.rpc.Status` said, for classification.
struct Failure<'a> {
    action: &'a str,
    code: &'a str,
    text: &'a str,
    sent_bytes: Option<u64>,
    permission: Option<String>,
}

impl Failure<'_> {
    fn kind(&self) -> ErrorKind {
        match self.code {
            // Pub/Sub: "Request payload size exceeds the limit: 10485760 bytes." (publish
            // over 10 MB); Cloud Storage answers 413 → OUT_OF_RANGE/INVALID_ARGUMENT too.
            "INVALID_ARGUMENT" | "OUT_OF_RANGE" if self.is_size_limit() => {
                ErrorKind::PayloadTooLarge {
                    size: self.sent_bytes.unwrap_or(0),
                    limit: self.limit_in_text().unwrap_or(0),
                }
            }
            "INVALID_ARGUMENT" | "OUT_OF_RANGE" => ErrorKind::InvalidArgument,
            "NOT_FOUND" => ErrorKind::NotFound,
            "ALREADY_EXISTS" => ErrorKind::AlreadyExists,
            // Cloud Storage preconditions (ifGenerationMatch) answer FAILED_PRECONDITION;
            // ABORTED is a concurrency conflict of the same kind.
            "FAILED_PRECONDITION" | "ABORTED" => ErrorKind::PreconditionFailed,
            "PERMISSION_DENIED" | "UNAUTHENTICATED" => ErrorKind::PermissionDenied {
                permission: self
                    .permission
                    .clone()
                    .or_else(|| self.permission_in_text())
                    .unwrap_or_else(|| self.action.to_owned()),
            },
            "RESOURCE_EXHAUSTED" => ErrorKind::Throttled,
            "UNAVAILABLE" => ErrorKind::Unavailable,
            "DEADLINE_EXCEEDED" | "CANCELLED" => ErrorKind::Timeout,
            "UNIMPLEMENTED" => ErrorKind::Unsupported,
            _ => ErrorKind::Internal,
        }
    }

    fn is_size_limit(&self) -> bool {
        let text = self.text.to_ascii_lowercase();
        text.contains("exceeds the limit") || text.contains("too large")
    }

    /// The number in "… exceeds the limit: 10485760 bytes."
    fn limit_in_text(&self) -> Option<u64> {
        let start = self.text.find("limit")? + "limit".len();
        let digits: String = self.text[start..]
            .trim_start_matches([':', ' '])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }

    /// The permission in "Permission 'pubsub.topics.publish' denied on resource …" (the
    /// wording of IAM denials without an `ErrorInfo`).
    fn permission_in_text(&self) -> Option<String> {
        let start = self.text.find("Permission '")? + "Permission '".len();
        let end = self.text[start..].find('\'')?;
        Some(self.text[start..start + end].to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str, text: &str) -> ErrorKind {
        Failure {
            action: "pubsub.topics.publish",
            code,
            text,
            sent_bytes: Some(11_000_000),
            permission: None,
        }
        .kind()
    }

    // Pub/Sub quotas and limits page: 10 MB per publish request; the service answers
    // INVALID_ARGUMENT "Request payload size exceeds the limit: 10485760 bytes.".
    #[test]
    fn oversize_publish_is_payload_too_large() {
        assert_eq!(
            kind(
                "INVALID_ARGUMENT",
                "Request payload size exceeds the limit: 10485760 bytes."
            ),
            ErrorKind::PayloadTooLarge {
                size: 11_000_000,
                limit: 10_485_760
            }
        );
        assert_eq!(
            kind("INVALID_ARGUMENT", "bad name"),
            ErrorKind::InvalidArgument
        );
    }

    // IAM denial text: "Permission 'x' denied on resource '…' (or it may not exist)."
    #[test]
    fn denial_names_the_permission() {
        assert_eq!(
            kind(
                "PERMISSION_DENIED",
                "Permission 'pubsub.subscriptions.consume' denied on resource 'projects/p/subscriptions/s' (or it may not exist)."
            ),
            ErrorKind::PermissionDenied {
                permission: "pubsub.subscriptions.consume".into()
            }
        );
        assert_eq!(
            kind("PERMISSION_DENIED", "The caller does not have permission"),
            ErrorKind::PermissionDenied {
                permission: "pubsub.topics.publish".into()
            }
        );
    }

    // google.rpc.Code: the canonical codes and their meaning.
    #[test]
    fn canonical_codes_map_to_kinds() {
        let cases = [
            ("NOT_FOUND", "NotFound"),
            ("ALREADY_EXISTS", "AlreadyExists"),
            ("FAILED_PRECONDITION", "PreconditionFailed"),
            ("RESOURCE_EXHAUSTED", "Throttled"),
            ("UNAVAILABLE", "Unavailable"),
            ("DEADLINE_EXCEEDED", "Timeout"),
            ("UNIMPLEMENTED", "Unsupported"),
            ("INTERNAL", "Internal"),
            ("UNKNOWN", "Internal"),
        ];
        for (code, expected) in cases {
            assert_eq!(kind(code, "x").name(), expected, "{code}");
        }
    }

    // google.rpc.Code HTTP mapping.
    #[test]
    fn http_statuses_follow_the_canonical_mapping() {
        assert_eq!(kind_for_http_status(404), ErrorKind::NotFound);
        assert_eq!(kind_for_http_status(409), ErrorKind::AlreadyExists);
        assert_eq!(kind_for_http_status(429), ErrorKind::Throttled);
        assert_eq!(kind_for_http_status(500), ErrorKind::Internal);
    }
}
