//! Key-value store bound to one table, with upstream's `Kv` semantics
//! (upstream-runtime-and-bindings.md §3.3 `Kv`; upstream-stack-and-limits.md §6.5).

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// Opaque version token bound to this key; changes on every put.
    pub version: String,
}

/// Condition a put must meet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PutCondition {
    /// Write unconditionally.
    #[default]
    None,
    /// Write only if the key is absent (an expired entry counts as absent).
    Absent,
    /// Write only if the current version equals this token.
    Version(String),
}

/// Options of a put.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutOptions {
    /// Time to live, a soft hint: once passed the entry should read as absent.
    pub ttl: Option<Duration>,
    /// Condition on the current state.
    pub condition: PutCondition,
}

/// One page of a prefix scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    /// Entries of this page. Upstream allows an unordered subset with fewer than `limit`
    /// items and duplicates across pages (upstream-stack-and-limits.md §6.5).
    pub items: Vec<KvEntry>,
    /// Pass to the next scan with the same prefix; `None` when the scan is complete.
    pub next_cursor: Option<String>,
}

/// A key-value store. Keys and values are checked with
/// [`crate::validate::validate_kv_key`] and [`crate::validate::validate_kv_value`].
pub trait KvProvider: Send + Sync {
    /// The live entry for `key`, `None` if absent or expired.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<KvEntry>>> + Send;

    /// Writes `value` under `key`. Returns `false` only when `options.condition` fails.
    fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        options: PutOptions,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Deletes `key`, only if its version equals `if_version` when given. Returns whether a
    /// live entry was deleted (`false`: absent, or the version did not match).
    fn delete(
        &self,
        key: &str,
        if_version: Option<&str>,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Whether a live entry exists for `key`.
    fn exists(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Entries whose key starts with `prefix`, at most `limit` per page (upstream default
    /// 1000, published-3.3.49.md §5.2). `cursor` is the previous page's `next_cursor`; a
    /// cursor from another prefix is `InvalidArgument`.
    fn scan_prefix(
        &self,
        prefix: &str,
        limit: Option<usize>,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<ScanResult>> + Send;
}
