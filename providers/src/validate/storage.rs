//! Storage key safety for filesystem-backed stores.
//!
//! Upstream's local storage maps keys onto paths under `storagePath`
//! (published-3.3.49.md §5.1; upstream-runtime-and-bindings.md §3.6), so a key must never
//! escape that root. These rules are this crate's, not upstream texts: S3 itself would accept
//! most such keys as opaque names.

use std::path::{Component, Path};

use crate::error::{ProviderError, Result};

/// Refuses keys that are empty, contain NUL, are absolute or contain a `..` segment (with `/`
/// or `\` as separators). Absolute means rooted (`/…`, `\…`) on every host, plus anything the
/// host's path syntax treats as absolute or prefixed (e.g. `C:…` on Windows). Failures are
/// `InvalidArgument`.
pub fn validate_storage_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(ProviderError::invalid_argument(
            "Storage key cannot be empty",
        ));
    }
    if key.contains('\0') {
        return Err(ProviderError::invalid_argument(
            "Storage key contains a NUL character",
        ));
    }
    if is_absolute(key) {
        return Err(ProviderError::invalid_argument(format!(
            "Storage key must be a relative path: {key:?}"
        )));
    }
    if key.split(['/', '\\']).any(|segment| segment == "..") {
        return Err(ProviderError::invalid_argument(format!(
            "Storage key contains a '..' segment: {key:?}"
        )));
    }
    Ok(())
}

fn is_absolute(key: &str) -> bool {
    key.starts_with(['/', '\\'])
        || Path::new(key)
            .components()
            .any(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn message(key: &str) -> Option<String> {
        validate_storage_key(key).err().map(|e| e.message)
    }

    #[test]
    fn ordinary_keys_pass() {
        for key in [
            "a",
            "photos/2026/cat.jpg",
            "a..b/c",
            "..a/b..",
            "dir/",
            "x:y",
        ] {
            assert!(validate_storage_key(key).is_ok(), "{key:?}");
        }
    }

    #[test]
    fn empty_and_nul_are_refused() {
        assert_eq!(message("").as_deref(), Some("Storage key cannot be empty"));
        assert_eq!(
            message("a\0b").as_deref(),
            Some("Storage key contains a NUL character")
        );
        assert_eq!(
            validate_storage_key("").err().map(|e| e.kind),
            Some(ErrorKind::InvalidArgument)
        );
    }

    #[test]
    fn absolute_paths_are_refused() {
        let mut keys = vec!["/etc/passwd", "\\share", "//server/share"];
        if cfg!(windows) {
            keys.extend(["C:evil", "c:\\x"]);
        }
        for key in keys {
            assert_eq!(
                message(key),
                Some(format!("Storage key must be a relative path: {key:?}"))
            );
        }
    }

    #[test]
    fn dot_dot_segments_are_refused() {
        for key in ["..", "../x", "a/../b", "a/..", "a\\..\\b"] {
            assert_eq!(
                message(key),
                Some(format!("Storage key contains a '..' segment: {key:?}"))
            );
        }
    }
}
