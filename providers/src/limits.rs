//! Portable limits shared by every provider, with their upstream sources.

use std::time::Duration;

/// Largest queue message body in bytes: the serialized JSON or the raw text
/// (upstream-stack-and-limits.md §6.3, `MAX_MESSAGE_BYTES`; published-3.3.49.md §11).
pub const MAX_MESSAGE_BYTES: usize = 65_536;

/// Largest number of messages one `receive` may return (upstream-stack-and-limits.md §6.3,
/// `MAX_BATCH_SIZE`).
pub const MAX_RECEIVE_BATCH: u32 = 10;

/// Default lease after `receive` on the local queue and Pub/Sub; SQS uses the queue's
/// visibility timeout instead (upstream-stack-and-limits.md §6.3, `LEASE_SECONDS`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Shortest lease a renew (`change_visibility`) may set (published-3.3.49.md §4.5, §11).
pub const MIN_RENEW: Duration = Duration::from_secs(1);

/// Longest lease a renew (`change_visibility`) may set (published-3.3.49.md §4.5, §11).
pub const MAX_RENEW: Duration = Duration::from_secs(600);

/// Largest KV key in bytes (upstream-stack-and-limits.md §6.5, `MAX_KEY_BYTES`).
pub const MAX_KV_KEY_BYTES: usize = 512;

/// Largest KV value in bytes, bound by Azure Table Storage (upstream-stack-and-limits.md
/// §6.5, `MAX_VALUE_BYTES`).
pub const MAX_KV_VALUE_BYTES: usize = 24_576;
