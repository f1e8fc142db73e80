//! The one place where AWS failures become [`ProviderError`]s.
//!
//! Codes come from the AWS API references: SQS (JSON protocol; the SDK reports the legacy
//! query code of the `x-amzn-query-error` header when present, e.g.
//! `AWS.SimpleQueueService.NonExistentQueue`, else the `__type` shape name such as
//! `QueueDoesNotExist`), S3 (`<Error><Code>`), Lambda and EventBridge (`x-amzn-errortype` /
//! `__type`). \[platform knowledge\]

use std::error::Error as StdError;

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::{ErrorKind, ProviderError};

/// Throttling codes across the four services, plus SQS's `PurgeQueueInProgress` (a purge
/// within 60 s of the last one; waiting makes it succeed).
const THROTTLED: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "RequestThrottled",
    "SlowDown",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "PurgeQueueInProgress",
    "AWS.SimpleQueueService.PurgeQueueInProgress",
];

/// Size-limit codes: Lambda `Invoke` (413), S3 `EntityTooLarge`, SQS batch totals.
const TOO_LARGE: &[&str] = &[
    "RequestEntityTooLargeException",
    "EntityTooLarge",
    "MessageTooLong",
    "BatchRequestTooLong",
    "AWS.SimpleQueueService.BatchRequestTooLong",
];

/// A receipt handle that no longer names a current lease.
const STALE_RECEIPT: &[&str] = &[
    "ReceiptHandleIsInvalid",
    "MessageNotInflight",
    "AWS.SimpleQueueService.MessageNotInflight",
];

const NOT_FOUND: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NoSuchBucket",
    "NoSuchKey",
    "NotFound",
    "ResourceNotFoundException",
];

const ALREADY_EXISTS: &[&str] = &[
    "QueueNameExists",
    "QueueAlreadyExists",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "ResourceAlreadyExistsException",
];

/// Credentials the service refused (as opposed to a missing permission).
const BAD_CREDENTIALS: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
];

const INVALID: &[&str] = &[
    "ValidationException",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "InvalidParameterCombination",
    "InvalidRequestContentException",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidMessageContents",
    "InvalidBatchEntryId",
    "MissingParameter",
    "InvalidBucketName",
    "InvalidArgument",
    "MalformedXML",
];

const UNAVAILABLE: &[&str] = &[
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ResourceNotReadyException",
];

/// Turns a failed SDK call into a [`ProviderError`].
///
/// `action` is the IAM action the call needs (`sqs:SendMessage`); it prefixes the message
/// and is the permission reported for an access denial unless AWS names another one
/// ("… is not authorized to perform: kms:Decrypt …"). `sent_bytes` is the size of the payload
/// the call carried, reported in [`ErrorKind::PayloadTooLarge`]. The message keeps the AWS
/// error code and text: `"sqs:SendMessage: QueueDoesNotExist: The specified queue does not
/// exist."`.
pub fn map_sdk_error<E>(
    action: &str,
    sent_bytes: Option<u64>,
    err: SdkError<E, HttpResponse>,
) -> ProviderError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let (kind, message) = match &err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            let code = err.code().unwrap_or_default();
            let text = err.message().unwrap_or_default();
            let failure = Failure {
                action,
                code,
                text,
                status,
                sent_bytes,
            };
            let code = match (code, status) {
                ("", Some(status)) => format!("HTTP {status}"),
                ("", None) => "unparseable response".to_owned(),
                (code, _) => code.to_owned(),
            };
            (failure.kind(), describe(action, &code, text))
        }
        SdkError::TimeoutError(_) => (
            ErrorKind::Timeout,
            format!("{action}: no response within the deadline"),
        ),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => (
            ErrorKind::Timeout,
            format!(
                "{action}: connection timed out: {}",
                DisplayErrorContext(&err)
            ),
        ),
        SdkError::DispatchFailure(_) => (
            ErrorKind::Unavailable,
            format!(
                "{action}: could not reach the service: {}",
                DisplayErrorContext(&err)
            ),
        ),
        _ => (
            ErrorKind::Internal,
            format!(
                "{action}: the request could not be built: {}",
                DisplayErrorContext(&err)
            ),
        ),
    };
    ProviderError::new(kind, message).with_source(err)
}

/// Classifies an error AWS reported without an HTTP failure, such as a failed entry of an SQS
/// batch call (`BatchResultErrorEntry`), the same way as [`map_sdk_error`].
pub(super) fn map_error_code(
    action: &str,
    code: &str,
    text: &str,
    sent_bytes: Option<u64>,
) -> ProviderError {
    let failure = Failure {
        action,
        code,
        text,
        status: None,
        sent_bytes,
    };
    ProviderError::new(failure.kind(), describe(action, code, text))
}

/// `"{action}: {code}: {text}"`, without the last part when AWS sent no text.
fn describe(action: &str, code: &str, text: &str) -> String {
    if text.is_empty() {
        format!("{action}: {code}")
    } else {
        format!("{action}: {code}: {text}")
    }
}

/// What an error response said, for classification.
struct Failure<'a> {
    action: &'a str,
    code: &'a str,
    text: &'a str,
    status: Option<u16>,
    sent_bytes: Option<u64>,
}

impl Failure<'_> {
    fn kind(&self) -> ErrorKind {
        let code = self.code;
        let is = |codes: &[&str]| codes.contains(&code);
        if is(THROTTLED) || self.status == Some(429) {
            ErrorKind::Throttled
        } else if is(TOO_LARGE)
            || self.status == Some(413)
            || self.text.contains("must be shorter than")
        {
            ErrorKind::PayloadTooLarge {
                size: self.sent_bytes.or_else(|| self.size_in_text()).unwrap_or(0),
                limit: self.limit_in_text().unwrap_or(0),
            }
        } else if is(STALE_RECEIPT)
            || (code.starts_with("InvalidParameterValue") && self.text.contains("ReceiptHandle"))
        {
            ErrorKind::StaleReceipt
        } else if is(NOT_FOUND) {
            ErrorKind::NotFound
        } else if is(ALREADY_EXISTS) {
            ErrorKind::AlreadyExists
        } else if code.starts_with("AccessDenied") || is(BAD_CREDENTIALS) {
            ErrorKind::PermissionDenied {
                permission: self.permission_in_text().unwrap_or(self.action).to_owned(),
            }
        } else if is(INVALID) {
            ErrorKind::InvalidArgument
        } else if is(UNAVAILABLE) || self.status == Some(503) {
            ErrorKind::Unavailable
        } else if self.status == Some(404) {
            ErrorKind::NotFound
        } else {
            ErrorKind::Internal
        }
    }

    /// The limit in "Message must be shorter than 1024 bytes." (SQS), "Request must be
    /// smaller than 6291456 bytes …" or "… (limit 262144 bytes)" (Lambda).
    fn limit_in_text(&self) -> Option<u64> {
        ["shorter than ", "smaller than ", "(limit "]
            .iter()
            .find_map(|marker| number_after(self.text, marker))
    }

    /// The size in "473086 byte payload is too large …" (Lambda).
    fn size_in_text(&self) -> Option<u64> {
        let end = self.text.find(" byte payload")?;
        self.text[..end].rsplit(' ').next()?.parse().ok()
    }

    /// The action in "… is not authorized to perform: sqs:sendmessage on resource …".
    fn permission_in_text(&self) -> Option<&str> {
        let start = self.text.find("perform: ")? + "perform: ".len();
        self.text[start..].split_whitespace().next()
    }
}

/// The decimal number right after `marker` in `text`.
fn number_after(text: &str, marker: &str) -> Option<u64> {
    let start = text.find(marker)? + marker.len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str, text: &str, status: u16, sent_bytes: Option<u64>) -> ErrorKind {
        Failure {
            action: "sqs:SendMessage",
            code,
            text,
            status: Some(status),
            sent_bytes,
        }
        .kind()
    }

    // AWS Lambda Invoke API reference: RequestEntityTooLargeException (413) with the sync
    // limit in the message; the size is what the adapter sent.
    #[test]
    fn lambda_request_too_large_reads_the_limit() {
        assert_eq!(
            kind(
                "RequestEntityTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
                413,
                Some(7_000_000)
            ),
            ErrorKind::PayloadTooLarge {
                size: 7_000_000,
                limit: 6_291_456
            }
        );
    }

    // Lambda's asynchronous form names both numbers: "N byte payload is too large for the
    // Event invocation type (limit M bytes)".
    #[test]
    fn lambda_event_payload_names_size_and_limit() {
        assert_eq!(
            kind(
                "RequestEntityTooLargeException",
                "473086 byte payload is too large for the Event invocation type (limit 262144 bytes)",
                413,
                None
            ),
            ErrorKind::PayloadTooLarge {
                size: 473_086,
                limit: 262_144
            }
        );
    }

    // SQS SendMessage: InvalidParameterValue "… Reason: Message must be shorter than N bytes."
    // when the body exceeds the queue's MaximumMessageSize.
    #[test]
    fn sqs_message_too_long_is_payload_too_large() {
        assert_eq!(
            kind(
                "InvalidParameterValue",
                "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.",
                400,
                Some(2000)
            ),
            ErrorKind::PayloadTooLarge {
                size: 2000,
                limit: 1024
            }
        );
    }

    // IAM's denial text names the missing action; without it the call's own action is used.
    #[test]
    fn access_denied_names_the_permission() {
        let denied = "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: \
                      kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:123456789012:key/k";
        assert_eq!(
            kind("AccessDenied", denied, 403, None),
            ErrorKind::PermissionDenied {
                permission: "kms:GenerateDataKey".into()
            }
        );
        assert_eq!(
            kind("AccessDeniedException", "Access Denied", 403, None),
            ErrorKind::PermissionDenied {
                permission: "sqs:SendMessage".into()
            }
        );
    }

    #[test]
    fn unknown_codes_fall_back_on_the_status() {
        assert_eq!(kind("Mystery", "", 503, None), ErrorKind::Unavailable);
        assert_eq!(kind("Mystery", "", 404, None), ErrorKind::NotFound);
        assert_eq!(kind("Mystery", "", 500, None), ErrorKind::Internal);
        assert_eq!(kind("Mystery", "", 429, None), ErrorKind::Throttled);
    }
}
