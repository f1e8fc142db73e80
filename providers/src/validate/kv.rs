//! KV key and value rules (upstream-stack-and-limits.md §6.5; upstream-runtime-and-bindings.md
//! §3.3 `Kv`).

use crate::error::{ErrorKind, ProviderError, Result};
use crate::limits::{MAX_KV_KEY_BYTES, MAX_KV_VALUE_BYTES};

/// Checks a KV key: non-empty, at most 512 bytes, only `a-z A-Z 0-9 - _ : .`.
/// Failures are `InvalidArgument` with upstream's exact texts.
pub fn validate_kv_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(ProviderError::invalid_argument("Key cannot be empty"));
    }
    if key.len() > MAX_KV_KEY_BYTES {
        return Err(ProviderError::invalid_argument(format!(
            "Key exceeds {MAX_KV_KEY_BYTES} bytes"
        )));
    }
    if !key.bytes().all(is_key_byte) {
        return Err(ProviderError::invalid_argument(
            "Key contains invalid characters. Allowed: a-z A-Z 0-9 - _ : . \
             (no spaces, slashes, or special characters)",
        ));
    }
    Ok(())
}

/// Checks a KV value: at most 24,576 bytes. Failure is `PayloadTooLarge` with upstream's
/// text "Value exceeds 24576 bytes".
pub fn validate_kv_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_KV_VALUE_BYTES {
        return Err(ProviderError::new(
            ErrorKind::PayloadTooLarge {
                size: value.len() as u64,
                limit: MAX_KV_VALUE_BYTES as u64,
            },
            format!("Value exceeds {MAX_KV_VALUE_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<()>) -> Option<String> {
        result.err().map(|e| e.message)
    }

    // upstream-stack-and-limits.md §6.5: "Key cannot be empty".
    #[test]
    fn empty_key_is_rejected() {
        let err = validate_kv_key("").err();
        assert_eq!(
            err.as_ref().map(|e| &e.kind),
            Some(&ErrorKind::InvalidArgument)
        );
        assert_eq!(
            err.map(|e| e.message).as_deref(),
            Some("Key cannot be empty")
        );
    }

    // upstream-stack-and-limits.md §6.5: MAX_KEY_BYTES = 512, "Key exceeds 512 bytes".
    #[test]
    fn key_length_limit_is_512_bytes() {
        assert!(validate_kv_key(&"k".repeat(512)).is_ok());
        assert_eq!(
            message(validate_kv_key(&"k".repeat(513))).as_deref(),
            Some("Key exceeds 512 bytes")
        );
    }

    // upstream-stack-and-limits.md §6.5: charset a-z A-Z 0-9 - _ : . and its error text.
    #[test]
    fn key_charset_is_enforced() {
        assert!(validate_kv_key("user:42.profile-v1_b").is_ok());
        let expected = "Key contains invalid characters. Allowed: a-z A-Z 0-9 - _ : . \
                        (no spaces, slashes, or special characters)";
        for bad in ["a b", "a/b", "a\\b", "é", "a*", "a\0b"] {
            assert_eq!(
                message(validate_kv_key(bad)).as_deref(),
                Some(expected),
                "{bad:?}"
            );
        }
    }

    // A 600-byte key of invalid characters reports the length first.
    #[test]
    fn length_is_checked_before_charset() {
        assert_eq!(
            message(validate_kv_key(&" ".repeat(600))).as_deref(),
            Some("Key exceeds 512 bytes")
        );
    }

    // upstream-stack-and-limits.md §6.5: MAX_VALUE_BYTES = 24,576, "Value exceeds 24576 bytes".
    #[test]
    fn value_limit_is_24576_bytes() {
        assert!(validate_kv_value(&[0; 24_576]).is_ok());
        let err = validate_kv_value(&[0; 24_577]).err();
        assert_eq!(
            err.as_ref().map(|e| &e.kind),
            Some(&ErrorKind::PayloadTooLarge {
                size: 24_577,
                limit: 24_576
            })
        );
        assert_eq!(
            err.map(|e| e.message).as_deref(),
            Some("Value exceeds 24576 bytes")
        );
    }
}
