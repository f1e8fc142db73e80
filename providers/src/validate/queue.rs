//! Queue send, receive and renew rules (upstream-stack-and-limits.md §6.3;
//! published-3.3.49.md §4.5 and §11).

use std::time::Duration;

use crate::error::{ErrorKind, ProviderError, Result};
use crate::limits::{MAX_RECEIVE_BATCH, MAX_RENEW, MIN_RENEW};
use crate::types::Payload;

/// Upstream's code for an oversize send and an out-of-range receive count
/// (published-3.3.49.md §4.5).
const BINDING_SETUP_FAILED: &str = "BINDING_SETUP_FAILED";

/// Checks a message against `limit` bytes (usually [`crate::limits::MAX_MESSAGE_BYTES`]) and
/// returns its measured size ([`Payload::serialized_len`]). Empty payloads pass, as upstream's
/// single `send` accepts them. Failure: `PayloadTooLarge`, code `BINDING_SETUP_FAILED`,
/// "Message size {n} bytes exceeds limit of {max} bytes".
pub fn validate_message_size(payload: &Payload, limit: usize) -> Result<usize> {
    let size = payload.serialized_len();
    if size > limit {
        return Err(ProviderError::new(
            ErrorKind::PayloadTooLarge {
                size: size as u64,
                limit: limit as u64,
            },
            format!("Message size {size} bytes exceeds limit of {limit} bytes"),
        )
        .with_code(BINDING_SETUP_FAILED));
    }
    Ok(size)
}

/// Checks a receive count: 1..=10. Failure: `InvalidArgument`, code `BINDING_SETUP_FAILED`,
/// "Batch size {n} is invalid. Must be between 1 and 10".
pub fn validate_receive_batch(max_messages: u32) -> Result<()> {
    if !(1..=MAX_RECEIVE_BATCH).contains(&max_messages) {
        return Err(ProviderError::invalid_argument(format!(
            "Batch size {max_messages} is invalid. Must be between 1 and {MAX_RECEIVE_BATCH}"
        ))
        .with_code(BINDING_SETUP_FAILED));
    }
    Ok(())
}

/// Checks a renew (visibility change) duration: 1 s..=600 s. Failure: `InvalidArgument`,
/// code `INVALID_INPUT`, "durationSeconds must be between 1 and 600".
pub fn validate_renew_duration(duration: Duration) -> Result<()> {
    if !(MIN_RENEW..=MAX_RENEW).contains(&duration) {
        return Err(ProviderError::invalid_argument(format!(
            "durationSeconds must be between {} and {}",
            MIN_RENEW.as_secs(),
            MAX_RENEW.as_secs()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_MESSAGE_BYTES;
    use serde_json::json;

    // upstream-stack-and-limits.md §6.3 / published-3.3.49.md §4.5: 65,536 bytes allowed,
    // one more is BINDING_SETUP_FAILED "Message size N bytes exceeds limit of 65536 bytes".
    #[test]
    fn message_size_limit_and_text() {
        let at_limit = Payload::Text("x".repeat(MAX_MESSAGE_BYTES));
        assert_eq!(
            validate_message_size(&at_limit, MAX_MESSAGE_BYTES).ok(),
            Some(65_536)
        );

        let over = Payload::Text("x".repeat(MAX_MESSAGE_BYTES + 1));
        let err = validate_message_size(&over, MAX_MESSAGE_BYTES).err();
        assert_eq!(
            err.as_ref().map(|e| &e.kind),
            Some(&ErrorKind::PayloadTooLarge {
                size: 65_537,
                limit: 65_536
            })
        );
        assert_eq!(err.as_ref().map(|e| e.code()), Some("BINDING_SETUP_FAILED"));
        assert_eq!(
            err.map(|e| e.message).as_deref(),
            Some("Message size 65537 bytes exceeds limit of 65536 bytes")
        );
    }

    // The JSON body is measured serialized: a 65,535-char string is 65,537 bytes with quotes.
    #[test]
    fn json_string_is_measured_with_quotes() {
        let payload = Payload::Json(json!("x".repeat(MAX_MESSAGE_BYTES - 1)));
        assert!(validate_message_size(&payload, MAX_MESSAGE_BYTES).is_err());
    }

    // published-3.3.49.md §4.5: empty payloads are accepted by single send.
    #[test]
    fn empty_text_is_accepted() {
        assert_eq!(
            validate_message_size(&Payload::Text(String::new()), 10).ok(),
            Some(0)
        );
    }

    // upstream-stack-and-limits.md §6.3 / published-3.3.49.md §4.5: receive count 1..=10,
    // BINDING_SETUP_FAILED "Batch size N is invalid. Must be between 1 and 10".
    #[test]
    fn receive_batch_range_and_text() {
        assert!(validate_receive_batch(1).is_ok());
        assert!(validate_receive_batch(10).is_ok());
        for n in [0, 11] {
            let err = validate_receive_batch(n).err();
            assert_eq!(
                err.as_ref().map(|e| &e.kind),
                Some(&ErrorKind::InvalidArgument)
            );
            assert_eq!(err.as_ref().map(|e| e.code()), Some("BINDING_SETUP_FAILED"));
            assert_eq!(
                err.map(|e| e.message),
                Some(format!(
                    "Batch size {n} is invalid. Must be between 1 and 10"
                ))
            );
        }
    }

    // published-3.3.49.md §4.5: renew durationSeconds 1..=600, else INVALID_INPUT
    // "durationSeconds must be between 1 and 600".
    #[test]
    fn renew_duration_range_and_text() {
        assert!(validate_renew_duration(Duration::from_secs(1)).is_ok());
        assert!(validate_renew_duration(Duration::from_secs(600)).is_ok());
        for bad in [
            Duration::ZERO,
            Duration::from_millis(999),
            Duration::from_secs(601),
            Duration::from_millis(600_001),
        ] {
            let err = validate_renew_duration(bad).err();
            assert_eq!(
                err.as_ref().map(|e| e.code()),
                Some("INVALID_INPUT"),
                "{bad:?}"
            );
            assert_eq!(
                err.map(|e| e.message).as_deref(),
                Some("durationSeconds must be between 1 and 600")
            );
        }
    }
}
