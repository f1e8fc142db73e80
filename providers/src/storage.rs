//! Object storage bound to one bucket, plus a change feed.
//!
//! The object operations are the portable subset of upstream's `Storage` binding, which is
//! object_store's `ObjectStore` (upstream-runtime-and-bindings.md §3.3). The change feed
//! models upstream's storage events (published-3.3.49.md §8; upstream-stack-and-limits.md
//! §5.2).

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::types::ChangeCursor;

/// Attributes stored with an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutObjectOptions {
    /// MIME type, e.g. `application/json`.
    pub content_type: Option<String>,
    /// User metadata (S3 `x-amz-meta-*`).
    pub metadata: BTreeMap<String, String>,
}

/// What a successful `put` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutObjectResult {
    /// Size written, in bytes.
    pub size: u64,
    /// Entity tag of the new content (S3 `PutObject` returns it as `ETag`).
    pub etag: String,
}

/// Description of a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Entity tag; changes whenever the content changes.
    pub etag: String,
    /// Time of the last write.
    pub last_modified: DateTime<Utc>,
    /// MIME type if one was stored. Listings may omit it (S3 `ListObjectsV2` does).
    pub content_type: Option<String>,
    /// User metadata. Listings may omit it (S3 `ListObjectsV2` does).
    pub metadata: BTreeMap<String, String>,
}

/// An object with its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// What `head` would return.
    pub meta: ObjectMeta,
    /// The content.
    pub body: Vec<u8>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage {
    /// Objects of this page in key order.
    pub objects: Vec<ObjectMeta>,
    /// Pass to the next `list` call; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StorageChangeKind {
    /// Written (created or overwritten); upstream's `created` (published-3.3.49.md §8).
    Created,
    /// Deleted; upstream's `deleted`.
    Deleted,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageChange {
    /// Created or deleted.
    pub event: StorageChangeKind,
    /// Object key.
    pub key: String,
    /// Size after the write; `None` for deletions.
    pub size: Option<u64>,
    /// Entity tag after the write; `None` for deletions.
    pub etag: Option<String>,
    /// When the change happened.
    pub at: DateTime<Utc>,
}

/// A batch of changes and the cursor to continue from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePage {
    /// Changes after the requested cursor, oldest first where the target orders them.
    pub changes: Vec<StorageChange>,
    /// Pass to the next `changes_since` call; equal to the input when nothing is new.
    pub cursor: ChangeCursor,
}

/// Object storage bound to one bucket or directory.
///
/// Keys are opaque strings; filesystem-backed implementations refuse unsafe keys with
/// [`crate::validate::validate_storage_key`].
pub trait StorageProvider: Send + Sync {
    /// Writes `body` under `key`, replacing any existing object.
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        options: PutObjectOptions,
    ) -> impl Future<Output = Result<PutObjectResult>> + Send;

    /// Reads an object; `None` when `key` does not exist.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<StoredObject>>> + Send;

    /// Reads an object's metadata; `None` when `key` does not exist.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<ObjectMeta>>> + Send;

    /// Lists objects whose key starts with `prefix`, one page at a time; `cursor` is the
    /// previous page's `next_cursor` (`None` for the first page).
    fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<ListPage>> + Send;

    /// Deletes `key`; deleting a missing key succeeds (S3 semantics).
    fn delete(&self, key: &str) -> impl Future<Output = Result<()>> + Send;

    /// Changes after `cursor` (`None`: from the oldest change still retained).
    ///
    /// Delivery is at least once: presenting a cursor acknowledges everything before it,
    /// so a caller that crashes before passing the returned cursor on sees the same changes
    /// again. Upstream delivers storage notifications at least once too
    /// (published-3.3.49.md §8).
    fn changes_since(
        &self,
        cursor: Option<ChangeCursor>,
    ) -> impl Future<Output = Result<ChangePage>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // published-3.3.49.md §8: event names are camelCase `created` / `deleted`.
    #[test]
    fn change_serializes_camel_case() {
        let change = StorageChange {
            event: StorageChangeKind::Deleted,
            key: "a/b".into(),
            size: None,
            etag: None,
            at: DateTime::<Utc>::UNIX_EPOCH,
        };
        assert_eq!(
            serde_json::to_value(&change).ok(),
            Some(json!({
                "event": "deleted",
                "key": "a/b",
                "size": null,
                "etag": null,
                "at": "1970-01-01T00:00:00Z"
            }))
        );
    }
}
