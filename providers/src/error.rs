//! The one error type every provider returns.
//!
//! [`ErrorKind`] is what a conformance suite compares across targets (emulator vs. a real
//! cloud); [`ProviderError::code`] is the string an app sees, using upstream's codes where
//! upstream defines one (published-3.3.49.md §4.3 and §4.5).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Result alias used by every provider trait.
pub type Result<T> = std::result::Result<T, ProviderError>;

/// Target-independent classification of a provider failure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The addressed resource (queue, bucket, worker, schedule, daemon…) does not exist.
    NotFound,
    /// A create-only operation found the resource already present.
    AlreadyExists,
    /// A message, value or object exceeds a size limit.
    PayloadTooLarge {
        /// Measured size in bytes.
        size: u64,
        /// The limit that was exceeded, in bytes.
        limit: u64,
    },
    /// An argument is outside its documented range or format.
    InvalidArgument,
    /// A conditional write or delete found a different state than required.
    PreconditionFailed,
    /// A receipt handle no longer identifies the current lease of its message.
    StaleReceipt,
    /// The target asked the caller to slow down.
    Throttled,
    /// The caller lacks a permission (or credential) for the operation.
    PermissionDenied {
        /// The permission that was missing, e.g. `sqs:SendMessage` or `queue/data-write`.
        permission: String,
    },
    /// The operation did not finish within its deadline.
    Timeout,
    /// The target does not support the operation.
    Unsupported,
    /// The target is temporarily unreachable or not ready.
    Unavailable,
    /// Any other failure inside the target.
    Internal,
}

impl ErrorKind {
    /// The variant name without its fields, for comparing kinds across targets whose
    /// limits differ (e.g. `PayloadTooLarge` with another `limit`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::NotFound => "NotFound",
            Self::AlreadyExists => "AlreadyExists",
            Self::PayloadTooLarge { .. } => "PayloadTooLarge",
            Self::InvalidArgument => "InvalidArgument",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::StaleReceipt => "StaleReceipt",
            Self::Throttled => "Throttled",
            Self::PermissionDenied { .. } => "PermissionDenied",
            Self::Timeout => "Timeout",
            Self::Unsupported => "Unsupported",
            Self::Unavailable => "Unavailable",
            Self::Internal => "Internal",
        }
    }

    /// The code used when an error carries no more specific upstream code.
    ///
    /// Upstream codes (published-3.3.49.md §4.3): `INVALID_INPUT` (upstream's generic
    /// invalid-input error), `QUEUE_OPERATION_FAILED` (the stale-receipt error, §4.5).
    /// `OPERATION_NOT_SUPPORTED` is inferred from upstream's `OperationNotSupported` variant
    /// (upstream-stack-and-limits.md §6.3) by the naming rule visible in §4.3
    /// (`queueOperationFailed` ↔ `QUEUE_OPERATION_FAILED`). Every other code here is defined
    /// by this crate because upstream has no resource-independent equivalent.
    pub fn default_code(&self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::InvalidArgument => "INVALID_INPUT",
            Self::PreconditionFailed => "PRECONDITION_FAILED",
            Self::StaleReceipt => "QUEUE_OPERATION_FAILED",
            Self::Throttled => "THROTTLED",
            Self::PermissionDenied { .. } => "PERMISSION_DENIED",
            Self::Timeout => "TIMEOUT",
            Self::Unsupported => "OPERATION_NOT_SUPPORTED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    /// Whether repeating the same call later can succeed without changing its arguments.
    ///
    /// Note: upstream marks `QUEUE_OPERATION_FAILED` retryable on the wire because the code
    /// also covers store failures (published-3.3.49.md §4.3); a stale receipt itself can never
    /// become valid again, so [`ErrorKind::StaleReceipt`] is not retryable here.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttled | Self::Timeout | Self::Unavailable | Self::Internal
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed provider operation: a comparable [`ErrorKind`], a human-readable message and,
/// where upstream uses a different code for this case than the kind's default, that code.
///
/// `Display` is `"<code>: <message>"`, the shape of upstream's app-side error text
/// (published-3.3.49.md §4.3).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {}", self.code(), self.message)]
pub struct ProviderError {
    /// What went wrong, comparable across targets.
    pub kind: ErrorKind,
    /// Human-readable reason; for validation failures the exact upstream reason text.
    pub message: String,
    code: Option<&'static str>,
    #[source]
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl ProviderError {
    /// An error of `kind` with `message` and the kind's default code.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            code: None,
            source: None,
        }
    }

    /// Replace the code with the one upstream uses for this specific case (e.g.
    /// `BINDING_SETUP_FAILED` for an oversize queue send, published-3.3.49.md §4.5).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// Attach the underlying error (e.g. an SDK error in a cloud adapter).
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The error code an app would see: the case-specific upstream code if one was set,
    /// otherwise [`ErrorKind::default_code`].
    pub fn code(&self) -> &'static str {
        self.code.unwrap_or_else(|| self.kind.default_code())
    }

    /// Whether retrying the same call can succeed; see [`ErrorKind::retryable`].
    pub fn retryable(&self) -> bool {
        self.kind.retryable()
    }

    /// `InvalidArgument` with `message`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// `NotFound` with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// `Unsupported` with `message`.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// `StaleReceipt` with upstream's reason text for message `message_id`
    /// (published-3.3.49.md §4.5: ack/nack/renew with a superseded receipt).
    pub fn stale_receipt(message_id: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::StaleReceipt,
            format!(
                "stale receipt handle for message {message_id}: the message was redelivered \
                 and a newer receipt supersedes this one"
            ),
        )
    }

    /// Upstream's `LOCAL_QUEUE_UNAUTHORIZED` (401, not retryable): the queue credential is
    /// missing or invalid (published-3.3.49.md §4.3).
    pub fn queue_unauthorized() -> Self {
        Self::new(
            ErrorKind::PermissionDenied {
                permission: "queue credential".to_owned(),
            },
            "Local queue credential is missing or invalid",
        )
        .with_code("LOCAL_QUEUE_UNAUTHORIZED")
    }

    /// Upstream's `LOCAL_QUEUE_OWNER_NOT_READY` (503, retryable) for `deployment`
    /// (published-3.3.49.md §4.3).
    pub fn queue_owner_not_ready(deployment: &str) -> Self {
        Self::new(
            ErrorKind::Unavailable,
            format!("Local queue owner for deployment '{deployment}' is not registered yet"),
        )
        .with_code("LOCAL_QUEUE_OWNER_NOT_READY")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_codes_follow_the_kind() {
        assert_eq!(ProviderError::invalid_argument("x").code(), "INVALID_INPUT");
        assert_eq!(ProviderError::not_found("x").code(), "NOT_FOUND");
        assert_eq!(
            ProviderError::unsupported("x").code(),
            "OPERATION_NOT_SUPPORTED"
        );
    }

    // published-3.3.49.md §4.5: a stale receipt is QUEUE_OPERATION_FAILED with this reason.
    #[test]
    fn stale_receipt_uses_upstream_code_and_text() {
        let err = ProviderError::stale_receipt(7);
        assert_eq!(err.kind, ErrorKind::StaleReceipt);
        assert_eq!(err.code(), "QUEUE_OPERATION_FAILED");
        assert_eq!(
            err.message,
            "stale receipt handle for message 7: the message was redelivered and a newer \
             receipt supersedes this one"
        );
        assert!(!err.retryable());
    }

    // published-3.3.49.md §4.3: LOCAL_QUEUE_UNAUTHORIZED (no retry), OWNER_NOT_READY (retry).
    #[test]
    fn queue_owner_errors_use_upstream_codes() {
        let unauthorized = ProviderError::queue_unauthorized();
        assert_eq!(unauthorized.code(), "LOCAL_QUEUE_UNAUTHORIZED");
        assert_eq!(unauthorized.kind.name(), "PermissionDenied");
        assert!(!unauthorized.retryable());

        let not_ready = ProviderError::queue_owner_not_ready("dep-1");
        assert_eq!(not_ready.code(), "LOCAL_QUEUE_OWNER_NOT_READY");
        assert_eq!(
            not_ready.message,
            "Local queue owner for deployment 'dep-1' is not registered yet"
        );
        assert!(not_ready.retryable());
    }

    #[test]
    fn with_code_overrides_the_default() {
        let err = ProviderError::invalid_argument("bad").with_code("BINDING_SETUP_FAILED");
        assert_eq!(err.code(), "BINDING_SETUP_FAILED");
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn display_is_code_then_message() {
        let err = ProviderError::not_found("queue 'jobs' does not exist");
        assert_eq!(err.to_string(), "NOT_FOUND: queue 'jobs' does not exist");
    }

    #[test]
    fn source_is_exposed() {
        let io = std::io::Error::other("socket closed");
        let err = ProviderError::new(ErrorKind::Unavailable, "send failed").with_source(io);
        assert_eq!(
            err.source().map(ToString::to_string).as_deref(),
            Some("socket closed")
        );
    }

    #[test]
    fn only_transient_kinds_are_retryable() {
        let retryable: Vec<_> = [
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::PayloadTooLarge { size: 2, limit: 1 },
            ErrorKind::InvalidArgument,
            ErrorKind::PreconditionFailed,
            ErrorKind::StaleReceipt,
            ErrorKind::Throttled,
            ErrorKind::PermissionDenied {
                permission: "p".into(),
            },
            ErrorKind::Timeout,
            ErrorKind::Unsupported,
            ErrorKind::Unavailable,
            ErrorKind::Internal,
        ]
        .iter()
        .filter(|k| k.retryable())
        .map(ErrorKind::name)
        .collect();
        assert_eq!(
            retryable,
            ["Throttled", "Timeout", "Unavailable", "Internal"]
        );
    }

    #[test]
    fn kind_name_ignores_fields() {
        let a = ErrorKind::PayloadTooLarge {
            size: 70_000,
            limit: 65_536,
        };
        let b = ErrorKind::PayloadTooLarge {
            size: 300_000,
            limit: 262_144,
        };
        assert_ne!(a, b);
        assert_eq!(a.name(), b.name());
        assert_eq!(a.to_string(), "PayloadTooLarge");
    }
}
